/** An ASL definition, as far as its readers need: its states, by name, with those of Maps and Parallels inside. */
export interface AslStates {
  StartAt?: string;
  States: Record<string, Record<string, unknown>>;
}

type StateVisitor = (name: string, state: Record<string, unknown>) => void;

/** Visits every state, including those inside Map processors and Parallel branches. */
export function forEachState(definition: AslStates, visit: StateVisitor): void {
  for (const [name, state] of Object.entries(definition.States)) {
    visit(name, state);
    const nested = [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[]) ?? [])].filter(Boolean) as AslStates[];
    for (const sub of nested) forEachState(sub, visit);
  }
}

/** A state on a path through a definition: its name, type and, for a Task, the resource it calls. */
export interface PathState {
  name: string;
  type: string;
  resource?: string;
}

/**
 * The states a run enters, in order, when every step succeeds at its first attempt: from `StartAt`, each state's
 * `Next`, a Choice's `Default` (the compiled machines' Choices on that path, such as "Nothing to ingest?", go on
 * with the run by default and branch off only for what is unusual), until a Succeed state or `End`. Each is one
 * state transition on Step Functions Standard. Throws on what such a walk cannot say: a Choice without a Default, a
 * Map or Parallel (their iterations depend on the input), a loop, or a Fail state.
 */
export function successPath(definition: AslStates): PathState[] {
  const path: PathState[] = [];
  const seen = new Set<string>();
  let name: string | undefined = definition.StartAt;
  while (name !== undefined) {
    const state = definition.States[name];
    if (!state) throw new Error(`the success path reaches '${name}', which the definition does not have`);
    if (seen.has(name)) throw new Error(`the success path loops back to '${name}'`);
    seen.add(name);
    const type = String(state.Type);
    if (type === "Map" || type === "Parallel") throw new Error(`the success path enters the ${type} '${name}': its iterations depend on the input`);
    if (type === "Fail") throw new Error(`the success path ends in the Fail state '${name}'`);
    path.push({ name, type, ...(typeof state.Resource === "string" ? { resource: state.Resource } : {}) });
    if (type === "Succeed" || state.End === true) break;
    const next = type === "Choice" ? state.Default : state.Next;
    if (typeof next !== "string") throw new Error(`the state '${name}' (${type}) has no ${type === "Choice" ? "Default" : "Next"} to follow`);
    name = next;
  }
  return path;
}
