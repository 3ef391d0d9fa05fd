// Package cmd holds edgefit's command-line interface: one file per command,
// each a thin layer that parses flags, checks them, and calls the packages
// that do the work (devices, profiler, predictor, supernet, export).
//
// Conventions shared by every command:
//   - results go to stdout, as a human table by default or as JSON with
//     --json; progress and logs go to stderr, progress only on a terminal;
//   - every command's --help carries an example;
//   - errors print as "edgefit: error: ..." followed by "edgefit: hint: ..."
//     lines, and the process exits with one of the documented [ExitCode]s.
//
// Only cmd and its commands import cmd and the command-line libraries
// (cobra, pflag, progressbar, tablewriter, x/term); cmd does not import
// export/ort, whose models run inside export and the agent. The rules for
// every package are pinned by imports_test.go at the repository root.
package cmd
