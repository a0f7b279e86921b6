import { resolvedDefinition, resolvedDefinitions } from "../stacks/resolve-asl.ts";

/** `npm run asl -- <machine>`: the resolved ASL of one state machine, as JSON on stdout. */
async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (!name || name === "--help" || name === "-h") {
    const names = Object.keys(await resolvedDefinitions());
    const write = name ? console.log : console.error;
    write(`usage: npm run asl -- <machine>\n  machines: ${names.join(", ")}`);
    return name ? 0 : 64;
  }
  process.stdout.write(`${JSON.stringify(await resolvedDefinition(name), null, 2)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  },
);
