package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/devices"
)

// devicesList is what 'edgefit devices list' reports.
type devicesList struct {
	ADB      []devices.ADBDevice `json:"adb"`
	ADBError string              `json:"adb_error,omitempty"` // why adb could not be asked
	SSH      []devices.SSHAlias  `json:"ssh"`
	// Tables are the lookup tables 'edgefit run' measured and cached, by
	// device fingerprint and settings, in TablesDir.
	TablesDir string                `json:"tables_dir"`
	Tables    []edgefit.CachedTable `json:"tables"`
}

func newDevicesListCommand(g *globalOptions) *cobra.Command {
	var o targetOptions
	var cacheDir string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the targets edgefit can reach: adb devices, ssh config aliases, and tables cached by device",
		Long: `list shows what a TARGET can be: the Android devices adb sees ('adb devices -l';
an adb server it has to start is stopped again), the Host aliases of the ssh client
config (~/.ssh/config, then /etc/ssh/ssh_config; --ssh-config names another), and the
lookup tables 'edgefit run' measured and cached by device fingerprint and settings,
with the device each was measured on.`,
		Example: `  edgefit devices list
  edgefit devices list --json
  edgefit devices list --ssh-config ./ssh_config --adb ~/platform-tools/adb`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var l devicesList
			var err error
			opts := o.deviceOptions(g.logger())
			if l.ADB, err = devices.ListADB(cmd.Context(), opts); err != nil {
				l.ADBError = err.Error()
			}
			l.SSH = devices.SSHAliases(o.SSHConfig)
			if l.TablesDir, err = edgefit.CacheDir(cacheDir); err != nil {
				return err
			}
			if l.Tables, err = edgefit.CachedTables(l.TablesDir); err != nil {
				return err
			}
			if g.JSON {
				return writeJSON(g.io.Out, l)
			}
			return printDevicesList(g, l)
		},
	}
	f := c.Flags()
	f.StringVar(&o.SSHConfig, "ssh-config", "", `ssh client config whose Host aliases to list (default ~/.ssh/config then /etc/ssh/ssh_config; "none" for none)`)
	f.StringVar(&o.ADB, "adb", "", "adb binary (default: adb on PATH)")
	f.StringVar(&cacheDir, "tables", "", "table cache to list (default: the one 'edgefit run' uses, ~/.cache/edgefit/luts)")
	return c
}

func printDevicesList(g *globalOptions, l devicesList) error {
	w := g.io.Out
	fmt.Fprintln(w, "adb devices:")
	switch {
	case l.ADBError != "":
		fmt.Fprintf(w, "  (adb could not be asked: %s)\n", l.ADBError)
	case len(l.ADB) == 0:
		fmt.Fprintln(w, "  (none attached)")
	default:
		rows := make([][]string, len(l.ADB))
		for i, d := range l.ADB {
			rows[i] = []string{d.Target, d.State, d.Model, d.Description}
		}
		if err := writeTable(w, []string{"target", "state", "model", "adb says"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "ssh config aliases:")
	if len(l.SSH) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else {
		rows := make([][]string, len(l.SSH))
		for i, a := range l.SSH {
			port := ""
			if a.Port != 0 {
				port = strconv.Itoa(a.Port)
			}
			rows[i] = []string{a.Target, a.HostName, a.User, port}
		}
		if err := writeTable(w, []string{"target", "host name", "user", "port"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "cached lookup tables (%s):\n", l.TablesDir)
	if len(l.Tables) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	rows := make([][]string, len(l.Tables))
	for i, t := range l.Tables {
		state := fmt.Sprintf("%d entries, %d networks at %s", t.Entries, t.Networks, joinIntList(t.Resolutions))
		switch {
		case t.Error != "":
			state = "unreadable: " + t.Error
		case t.Unfinished:
			state = fmt.Sprintf("unfinished: %d entries, %d networks so far", t.Entries, t.Networks)
		}
		rt := ""
		if t.Runtime != nil {
			rt = strings.TrimSpace(t.Runtime.Provider + " " + threadsText(t.Runtime.Threads))
		}
		rows[i] = []string{t.Key, t.Target, t.Device, rt, state}
	}
	return writeTable(w, []string{"fingerprint", "target", "device", "runtime", "table"}, rows)
}

func threadsText(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n) + " thread(s)"
}
