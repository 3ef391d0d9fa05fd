package devices

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// ADBDevice is one line of `adb devices -l`.
type ADBDevice struct {
	Target string `json:"target"` // adb://SERIAL
	Serial string `json:"serial"`
	State  string `json:"state"` // device, unauthorized, offline, ...
	// Model and Product are adb's model: and product: fields, when it
	// gives them; Description is everything after the state.
	Model       string `json:"model,omitempty"`
	Product     string `json:"product,omitempty"`
	Description string `json:"description,omitempty"`
}

// ListADB lists the Android devices the adb server sees (`adb devices -l`)
// through the adb client of opts, as [Open] would find them. A server it
// has to start for that is stopped again (see [ADB.Close]).
func ListADB(ctx context.Context, opts Options) ([]ADBDevice, error) {
	a, err := newADBClient("list adb devices", opts)
	if err != nil {
		return nil, err
	}
	release, err := acquireADBServer(ctx, a.bin, a.env)
	if err != nil {
		return nil, err
	}
	defer release()
	ds, err := a.devices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ADBDevice, 0, len(ds))
	for _, d := range ds {
		x := ADBDevice{Target: "adb://" + d.serial, Serial: d.serial, State: d.state, Description: d.desc}
		for _, f := range strings.Fields(d.desc) {
			if v, ok := strings.CutPrefix(f, "model:"); ok {
				x.Model = v
			} else if v, ok := strings.CutPrefix(f, "product:"); ok {
				x.Product = v
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// SSHAlias is a Host entry of the ssh client configuration, with what it
// resolves to.
type SSHAlias struct {
	Target   string `json:"target"` // ssh://ALIAS
	Alias    string `json:"alias"`
	HostName string `json:"host_name,omitempty"`
	User     string `json:"user,omitempty"`
	Port     int    `json:"port,omitempty"` // 0: not set (ssh's 22)
}

// SSHAliases lists the host aliases of the ssh client configuration that
// [Open] reads (path as Options.SSHConfig: "" for ~/.ssh/config then
// /etc/ssh/ssh_config, "none" for none): every Host pattern without
// wildcards or negation, once, with its HostName, User and Port as ssh
// resolves them. Hosts of Included files are not listed.
func SSHAliases(path string) []SSHAlias {
	cfg := loadSSHConfig(path, (&Options{}).logger())
	var out []SSHAlias
	seen := map[string]bool{}
	for _, f := range cfg.files {
		for _, h := range f.Hosts {
			for _, p := range h.Patterns {
				alias := p.String()
				if alias == "" || strings.ContainsAny(alias, "*?!") || seen[alias] {
					continue
				}
				seen[alias] = true
				port, _ := strconv.Atoi(cfg.get(alias, "Port")) // ssh refuses a port that is not a number
				out = append(out, SSHAlias{Target: "ssh://" + alias, Alias: alias, HostName: cfg.get(alias, "HostName"),
					User: cfg.get(alias, "User"), Port: port})
			}
		}
	}
	slices.SortFunc(out, func(a, b SSHAlias) int { return strings.Compare(a.Alias, b.Alias) })
	return out
}
