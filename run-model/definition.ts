/** An ASL definition, as far as its readers need: its states, by name, with those of Maps and Parallels inside. */
export interface AslStates {
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
