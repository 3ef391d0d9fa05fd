package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
)

func init() { register(newDevicesCommand) }

func newDevicesCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "devices",
		Short: "List, inspect and trust target devices",
		Example: `  edgefit devices list
  edgefit devices probe local
  edgefit devices probe ssh://nvidia@jetson.local --with-agent --json
  edgefit devices trust ssh://pi@10.0.0.5`,
	}
	c.AddCommand(newProbeCommand(g), newTrustCommand(g), newDevicesListCommand(g))
	return c
}

func newProbeCommand(g *globalOptions) *cobra.Command {
	var o targetOptions
	var withAgent bool
	c := &cobra.Command{
		Use:   "probe TARGET",
		Short: "Print a device's fingerprint: OS, CPU clusters, frequencies, temperatures, memory, runtime",
		Long: `probe reads what a latency measurement depends on from TARGET (local,
ssh://user@host[:port] or adb://SERIAL) in one shell round trip. With --with-agent it
also deploys edgefit-agent and reports the ONNX Runtime version and execution
providers it finds there.`,
		Example: `  edgefit devices probe local
  edgefit devices probe adb:// --with-agent
  edgefit devices probe ssh://pi@raspberrypi.local:2222 --json`,
		Args: argsExactly("TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := o.open(ctx, g, args[0])
			if err != nil {
				return err
			}
			defer t.Close()
			var fp *devices.Fingerprint
			if withAgent {
				fp, _, err = agent.Probe(ctx, t, o.agentOptions(g.logger()))
				if err != nil {
					hint := "run 'make agents ort' to build the agent and fetch ONNX Runtime, or pass --agent/--ort-lib"
					if strings.HasPrefix(args[0], "adb://") {
						hint = "for a phone run 'make ort-android agent-android' (the agent needs the Android NDK; docs/devices.md), or pass --agent/--ort-lib"
					}
					err = withHint(err, hint)
				}
			} else {
				fp, err = devices.Probe(ctx, t)
			}
			if err != nil {
				return fmt.Errorf("probe %s: %w", args[0], err)
			}
			if g.JSON {
				return writeJSON(g.io.Out, fp)
			}
			rows := make([][]string, 0, 24)
			for _, r := range fp.Table() {
				rows = append(rows, []string{r[0], r[1]})
			}
			return writeKV(g.io.Out, rows)
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().BoolVar(&withAgent, "with-agent", false, "deploy edgefit-agent to report the ONNX Runtime version and execution providers")
	return c
}

func newTrustCommand(g *globalOptions) *cobra.Command {
	var o targetOptions
	var replace bool
	c := &cobra.Command{
		Use:   "trust ssh://user@host[:port]",
		Short: "Add an SSH target's host key to known_hosts after showing its fingerprint",
		Long: `trust fetches the host key of an SSH target and appends it to known_hosts, like
'ssh-keyscan >> ~/.ssh/known_hosts'. Compare the printed SHA256 fingerprint with
the one the device shows ('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub' on
it) before relying on it. A key that differs from one already on record is
refused, showing both fingerprints; --replace then swaps the old key for the
new one (for a device reinstalled on purpose).`,
		Example: `  edgefit devices trust ssh://pi@10.0.0.5
  edgefit devices trust ssh://root@127.0.0.1:2222 --known-hosts ./known_hosts
  edgefit devices trust --replace ssh://pi@10.0.0.5`,
		Args: argsExactly("TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			trust := devices.Trust
			if replace {
				trust = devices.TrustReplace
			}
			hk, err := trust(cmd.Context(), args[0], o.deviceOptions(g.logger()))
			if err != nil {
				return o.targetHint(args[0], err)
			}
			if g.JSON {
				return writeJSON(g.io.Out, hk)
			}
			state := "added to"
			if !hk.Added {
				state = "already in"
			}
			rows := [][]string{
				{"host", hk.Addr},
				{"key", hk.KeyType + " " + hk.Fingerprint},
				{"known_hosts", state + " " + hk.KnownHosts},
			}
			if len(hk.Replaced) > 0 {
				rows = append(rows, []string{"replaced", strings.Join(hk.Replaced, ", ")})
			}
			return writeKV(g.io.Out, rows)
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().BoolVar(&replace, "replace", false, "replace a different key on record for the host (after checking the new fingerprint)")
	return c
}
