package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at link time (-X github.com/edgefit/edgefit/cmd.Version=...);
// otherwise it falls back to the module's build information.
var Version = ""

// version returns the tool version recorded in outputs and metadata.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// IO is where a command reads and writes; tests pass buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// globalOptions are the flags every command accepts.
type globalOptions struct {
	JSON     bool
	LogLevel string
	NoProg   bool
	io       IO
	log      *slog.Logger
}

// logger returns the command's logger: edgefit's line format (see
// lineHandler) on stderr, at --log-level.
func (g *globalOptions) logger() *slog.Logger {
	if g.log == nil {
		g.log = g.newLogger()
	}
	return g.log
}

func (g *globalOptions) newLogger() *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(g.LogLevel) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	return slog.New(newLineHandler(g.io.Err, lvl))
}

// Execute runs the edgefit command line with args (without the program
// name) and returns the error to report; use [ExitCodeOf] and [PrintError]
// on it. Under --json, a failure also prints its JSON report on stdout
// (see writeErrorJSON).
func Execute(ctx context.Context, args []string, stdio IO) error {
	root, g := newRoot(stdio)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	// A flag error may come before --json is parsed: look for it too.
	if err != nil && (g.JSON || slices.Contains(args, "--json") || slices.Contains(args, "--json=true")) {
		if jerr := writeErrorJSON(stdio.Out, err); jerr != nil {
			return errors.Join(err, jerr)
		}
	}
	return err
}

func newRoot(stdio IO) (*cobra.Command, *globalOptions) {
	g := &globalOptions{io: stdio}
	root := &cobra.Command{
		Use:   "edgefit",
		Short: "Find and export the best Once-for-All subnet for one edge device",
		Long: `edgefit profiles a device (the local machine, ssh://user@host or adb://SERIAL),
builds a per-layer latency table, fits latency and accuracy predictors, searches
the Once-for-All MobileNetV3 space for the most accurate subnet within your
latency, memory, parameter and MAC limits, and exports it as an ONNX file that
it checks on the device.`,
		Example: `  edgefit run local --max-latency 15ms -o out/
  edgefit devices probe ssh://pi@jetson.local --json`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			slog.SetDefault(g.logger())
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withHint(usageErrorf("%v", err), fmt.Sprintf("see '%s --help'", c.CommandPath()))
	})
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "print results as JSON on stdout")
	pf.StringVar(&g.LogLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	pf.BoolVar(&g.NoProg, "no-progress", false, "never draw progress bars")

	for _, c := range subcommands {
		root.AddCommand(c(g))
	}
	return root, g
}

// subcommands lists the constructors of edgefit's commands; each command's
// file registers itself in an init function so that files stay independent.
var subcommands []func(*globalOptions) *cobra.Command

func register(f func(*globalOptions) *cobra.Command) { subcommands = append(subcommands, f) }

func init() {
	register(newVersionCommand)
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print edgefit's version",
		Example: "  edgefit version --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]string{"version": version(), "go": goVersion()}
			if g.JSON {
				return writeJSON(g.io.Out, v)
			}
			fmt.Fprintf(g.io.Out, "edgefit %s (%s)\n", v["version"], v["go"])
			return nil
		},
	}
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}
