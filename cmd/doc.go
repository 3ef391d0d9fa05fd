// Package cmd holds edgefit's command-line interface: one file per command,
// each a thin layer that parses flags, checks them, and calls the packages
// that do the work: the module's root package edgefit for the pipeline
// (run, and the space, config and checkpoint resolution, search and export
// that select and export share with it), and devices, profiler, predictor,
// supernet and export directly for the rest.
//
// Conventions shared by every command:
//   - results go to stdout, as a human table by default or as JSON with
//     --json, in one schema (see the README's JSON section and
//     schema_test.go); progress bars and logs go to stderr, bars only on a
//     terminal, logs and status lines in one format ("edgefit: ...", see
//     lineHandler);
//   - every command's --help carries an example;
//   - output paths are checked before any long work (checkOutput);
//   - errors print as "edgefit: error: ..." followed by "edgefit: hint: ..."
//     lines on stderr, under --json also as {"error","hints","exit_code"}
//     on stdout, and the process exits with one of the documented exit
//     codes.
//
// Only cmd and its commands import cmd and the command-line libraries
// (cobra, pflag, progressbar, tablewriter, x/term); cmd does not import
// export/ort, whose models run inside export and the agent. The rules for
// every package are pinned by imports_test.go at the repository root.
package cmd
