/**
 * The layer order of docs/ARCHITECTURE.md ("Layers: which folder may import which"), checked by dependency-cruiser
 * in `npm test` (test/dependency-layers.test.ts). Each folder may import itself and the folders listed for it,
 * nothing else; there is no exception list. Tests (`*.test.ts`) and their helpers (`testing/` folders) sit above
 * every layer: they may import anything, and nothing else may import them.
 */

/** Bottom to top: what each folder may import besides itself. */
const LAYERS = {
  lib: [],
  "run-model": ["lib"],
  workflows: ["lib", "run-model"],
  functions: ["lib", "run-model", "workflows"],
  containers: ["lib", "run-model", "workflows"],
  stacks: ["lib", "run-model", "workflows", "functions", "containers"],
  "run-records": ["lib", "run-model", "workflows", "functions"],
  local: ["lib", "run-model", "workflows", "functions", "containers", "stacks", "run-records"],
  cli: ["lib", "run-model", "workflows", "functions", "containers", "stacks", "run-records", "local"],
  bench: ["lib", "run-model", "workflows", "functions", "containers", "stacks", "run-records", "local", "cli"],
};

const TEST_CODE = "(\\.test\\.ts$|(^|/)testing/|^test/)";

const layerRules = Object.entries(LAYERS).map(([folder, below]) => ({
  name: `layer-${folder}`,
  comment: `${folder}/ may import only ${[folder, ...below].join(", ")} (docs/ARCHITECTURE.md, "Layers")`,
  severity: "error",
  from: { path: `^${folder}/`, pathNot: TEST_CODE },
  to: {
    // Project code only (npm packages and node: built-ins are every layer's to use).
    dependencyTypesNot: ["npm", "npm-dev", "npm-optional", "npm-peer", "npm-bundled", "npm-no-pkg", "npm-unknown", "core"],
    pathNot: `^(${[folder, ...below].map((f) => f.replace("-", "\\-")).join("|")})/`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: "sst-config",
      comment: "sst.config.ts wires the stacks: it may import stacks/ and what they stand on, never local/, cli/ or bench/",
      severity: "error",
      from: { path: "^sst\\.config\\.ts$" },
      to: { path: "^(local|cli|bench|run-records)/" },
    },
    {
      name: "no-test-code-in-layers",
      comment: "tests and their helpers sit above every layer: no module of a layer imports them",
      severity: "error",
      from: { pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
    {
      name: "no-circular",
      comment: "imports run one way only: no module reaches itself through its imports",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unresolvable",
      comment: "every relative import names a file that exists",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // test/fixtures/ holds deliberately wrong code that test/dependency-layers.test.ts cruises on its own; bench/data/ is
    // the bench's generated inputs and scratch (gitignored).
    exclude: { path: "(^|/)(node_modules|\\.sst|\\.data|dist|\\.git)/|^bench/data/|^\\.sst\\.config\\.|^test/fixtures/" },
    // Relative imports name `.ts` files (Node's type stripping and tsx run them as they are).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require("node:path").join(__dirname, "tsconfig.json") },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
