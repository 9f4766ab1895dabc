#!/usr/bin/env node
// Compiles every tests/contracts/src/*.sol with solc-js (standard JSON input) and writes
// tests/contracts/build/<ContractName>.json as {"abi": [...], "bytecode": "0x..."}; the same
// for the node's own read-only contracts in rosetta_node/contracts (artifacts beside them).
//
// Offline and pinned: solc-js 0.8.37 from npm, installed once with
//   npm install --prefix .tools/solc --no-audit --no-fund solc@0.8.37
// Override the module location with SOLC_JS=/path/to/node_modules/solc.
// Exits non-zero on any compiler error or on a different compiler version.
"use strict";

const fs = require("fs");
const path = require("path");

const SOLC_VERSION = "0.8.37";
const here = __dirname;
const srcDir = path.join(here, "src");
const buildDir = path.join(here, "build");
const repoRoot = path.resolve(here, "..", "..");
const toolsDir = process.env.ROSETTA_NODE_TOOLS_DIR || path.join(repoRoot, ".tools");
const solcPath = process.env.SOLC_JS || path.join(toolsDir, "solc", "node_modules", "solc");

function die(msg) {
  process.stderr.write(`compile.js: ${msg}\n`);
  process.exit(1);
}

let solc;
try {
  solc = require(solcPath);
} catch (e) {
  die(
    `cannot load solc-js from ${solcPath} (${e.message}).\n` +
      `Install it with: npm install --prefix ${path.join(toolsDir, "solc")} ` +
      `--no-audit --no-fund solc@${SOLC_VERSION}`,
  );
}
const version = solc.version();
if (!version.startsWith(SOLC_VERSION + "+")) {
  die(`expected solc ${SOLC_VERSION}, found ${version}`);
}

// Two sets: the test contracts (the devnet runs cancun), and the node's own read-only
// contracts (rosetta_node/contracts), built for paris so that they also run on EVM chains
// without shanghai's PUSH0.
const SETS = [
  { srcDir, buildDir, evmVersion: "cancun" },
  {
    srcDir: path.join(repoRoot, "rosetta_node", "contracts"),
    buildDir: path.join(repoRoot, "rosetta_node", "contracts"),
    evmVersion: "paris",
  },
];

function compileSet({ srcDir, buildDir, evmVersion }) {
  const files = fs
    .readdirSync(srcDir)
    .filter((f) => f.endsWith(".sol"))
    .sort();
  if (files.length === 0) die(`no .sol files in ${srcDir}`);

  // Source unit names are the bare file names, so `import "./Child.sol"` resolves to "Child.sol".
  const sources = {};
  for (const f of files) sources[f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };

  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion,
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };

  // Every import must be one of the files above: refuse to read anything else.
  function findImports(p) {
    return { error: `import not found: ${p} (only files in ${srcDir} are available)` };
  }

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors || [];
  for (const d of diagnostics) {
    process.stderr.write((d.formattedMessage || d.message) + "\n");
  }
  if (diagnostics.some((d) => d.severity === "error")) die("compilation failed");

  fs.mkdirSync(buildDir, { recursive: true });
  const written = [];
  for (const unit of Object.keys(output.contracts || {}).sort()) {
    for (const [name, c] of Object.entries(output.contracts[unit])) {
      const bytecode = c.evm.bytecode.object;
      if (!bytecode) die(`${unit}:${name} has no bytecode (abstract or interface?)`);
      const artifact = { abi: c.abi, bytecode: "0x" + bytecode };
      const file = path.join(buildDir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
      written.push(name);
    }
  }
  process.stdout.write(
    `solc ${version} (${evmVersion}): wrote ${written.length} artifacts to ${buildDir}: ` +
      `${written.join(", ")}\n`,
  );
}

for (const set of SETS) compileSet(set);
