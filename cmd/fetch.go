package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/supernet/zoo"
)

func init() { register(newFetchCommand) }

// fetchOptions are the flags of "edgefit fetch".
type fetchOptions struct {
	Cache   string
	BaseURL string
	Offline bool
	From    string
	List    bool
}

func newFetchCommand(g *globalOptions) *cobra.Command {
	o := &fetchOptions{}
	c := &cobra.Command{
		Use:   "fetch NAME...",
		Short: "Download OFA's supernets, accuracy predictor and Note10 latency tables into the cache",
		Long: `fetch downloads files that Once-for-All publishes, checks them, and keeps them
in a cache so that later commands work without the network. NAME is one of:

  ofa-mbv3-w1.0   the width 1.0 MobileNetV3 supernet
  ofa-mbv3-w1.2   the width 1.2 MobileNetV3 supernet
  acc-predictor   OFA's tutorial accuracy predictor (for the w1.2 space)
  lut-note10      OFA's Samsung Note10 latency tables, r=160..224 (w1.2 space)

Files whose published size and git blob SHA-1 are known are checked against
them; every file is also checked by structure (a supernet must load with the
expected width, the predictor as a 128-input MLP, each table as a 96-key OFA
table). An interrupted download resumes where it stopped. A file that fails a
check is removed and the command exits with status 4.

The cache is $XDG_CACHE_HOME/edgefit/ofa (or ~/.cache/edgefit/ofa) unless
--cache says otherwise. Files come from ` + zoo.DefaultBaseURL + `,
or from the mirror named by --base-url or $` + zoo.BaseURLEnv + `.
On a machine without access, download the file elsewhere and place it with
--from FILE NAME (a directory holding all files of NAME works too).`,
		Example: `  edgefit fetch --list
  edgefit fetch ofa-mbv3-w1.0 acc-predictor
  edgefit fetch lut-note10 --offline --json
  edgefit fetch --from ~/Downloads/ofa_mbv3_d234_e346_k357_w1.0 ofa-mbv3-w1.0`,
		ValidArgs: zoo.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFetch(cmd.Context(), g, o, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Cache, "cache", "", "cache directory (default $XDG_CACHE_HOME/edgefit/ofa or ~/.cache/edgefit/ofa)")
	f.StringVar(&o.BaseURL, "base-url", "", "download from this mirror of OFA's files (default $"+zoo.BaseURLEnv+" or OFA's server)")
	f.BoolVar(&o.Offline, "offline", false, "never use the network: only report what the cache holds")
	f.StringVar(&o.From, "from", "", "place this `FILE` (or directory) obtained elsewhere into the cache after checking it")
	f.BoolVar(&o.List, "list", false, "list what can be fetched and what the cache holds")
	return c
}

func (o *fetchOptions) zooOptions() zoo.Options {
	return zoo.Options{CacheDir: o.Cache, BaseURL: o.BaseURL, Offline: o.Offline}
}

// verifyFetchOptions rejects bad combinations of arguments and flags and
// returns the items named.
func verifyFetchOptions(o *fetchOptions, args []string) ([]zoo.Item, error) {
	if o.List {
		if len(args) > 0 || o.From != "" {
			return nil, usageErrorf("--list takes no names and no --from")
		}
		return nil, nil
	}
	if len(args) == 0 {
		return nil, withHint(usageErrorf("name what to fetch: one or more of %s", strings.Join(zoo.Names(), ", ")),
			"see what each is with 'edgefit fetch --list'")
	}
	if o.From != "" && len(args) != 1 {
		return nil, usageErrorf("--from places files of one item: name exactly one (got %d)", len(args))
	}
	var items []zoo.Item
	seen := map[string]bool{}
	for _, a := range args {
		it, err := zoo.Lookup(a)
		if err != nil {
			return nil, withHint(usageErrorf("%v", err), "see 'edgefit fetch --list'")
		}
		if !seen[a] {
			items = append(items, it)
			seen[a] = true
		}
	}
	return items, nil
}

// fetchedFile is one row of fetch's output.
type fetchedFile struct {
	Item    string `json:"item"`
	File    string `json:"file"`
	Path    string `json:"path"`
	Size    int64  `json:"size_bytes"`
	GitSHA1 string `json:"git_sha1,omitempty"`
	Source  string `json:"source,omitempty"`
}

func runFetch(ctx context.Context, g *globalOptions, o *fetchOptions, args []string) error {
	items, err := verifyFetchOptions(o, args)
	if err != nil {
		return err
	}
	if o.List {
		return listZoo(g, o)
	}
	zo := o.zooOptions()
	var out []fetchedFile
	for _, it := range items {
		var err error
		if o.From != "" {
			_, err = zoo.Import(ctx, it, o.From, zo)
		} else {
			var bar *progress
			zo.Progress = func(done, total int64) {
				if bar == nil {
					bar = g.newProgress(int(total), "fetch "+it.Name)
				}
				bar.Set(int(done), int(total))
			}
			_, err = zoo.Fetch(ctx, it, zo)
			bar.Done()
		}
		if err != nil {
			return fetchError(it, o, err)
		}
		states, err := zoo.Status(it, zo)
		if err != nil {
			return err
		}
		for _, s := range states {
			if o.From != "" && !s.Cached {
				continue // one file of a multi-file item was placed
			}
			out = append(out, fetchedFile{Item: it.Name, File: s.File.Name, Path: s.Path, Size: s.Size, GitSHA1: s.GitSHA1, Source: s.Source})
		}
	}
	if g.JSON {
		return writeJSON(g.io.Out, out)
	}
	rows := make([][]string, len(out))
	for i, f := range out {
		rows[i] = []string{f.Item, fetchSizeText(f.Size), f.Path}
	}
	return writeTable(g.io.Out, []string{"item", "size", "path"}, rows)
}

// fetchError adds what to do to the errors of zoo.
func fetchError(it zoo.Item, o *fetchOptions, err error) error {
	var (
		nc *zoo.NotCachedError
		ve *zoo.VerifyError
		de *zoo.DownloadError
	)
	place := func(url string) string {
		return fmt.Sprintf("or download %s on a machine that can, then run 'edgefit fetch --from FILE %s'", url, it.Name)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case o.From != "" && errors.As(err, &ve):
		return withCode(withHint(err, fmt.Sprintf("%s is not OFA's published %s; fetch it with 'edgefit fetch %s' instead", o.From, it.Name, it.Name)), ExitMismatch)
	case errors.As(err, &ve):
		return withCode(withHint(err,
			"the server sent a different file than OFA publishes: if --base-url or $"+zoo.BaseURLEnv+" names a mirror, check it",
			"rerun to download it again"), ExitMismatch)
	case errors.As(err, &nc) && nc.Err == nil:
		return withHint(err, "drop --offline to download it", place(nc.URL))
	case errors.As(err, &nc) && errors.As(err, &de) && de.StatusCode >= 400 && de.StatusCode < 500:
		return withHint(err,
			"the server does not serve this file: if --base-url or $"+zoo.BaseURLEnv+" names a mirror, check that it holds OFA's files under OFA's paths",
			place(nc.URL))
	case errors.As(err, &nc):
		return withHint(err,
			"check the network; rerun to resume (what arrived is kept), or set $"+zoo.BaseURLEnv+" to a mirror",
			place(nc.URL))
	}
	return err
}

// zooEntry is one row of "fetch --list".
type zooEntry struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Cached      bool        `json:"cached"`
	Files       []zooFileJS `json:"files"`
}

type zooFileJS struct {
	File      string `json:"file"`
	URL       string `json:"url"`
	Path      string `json:"path"`
	Cached    bool   `json:"cached"`
	Size      int64  `json:"size_bytes,omitempty"`
	Partial   int64  `json:"partial_bytes,omitempty"`
	KnownSize int64  `json:"known_size_bytes,omitempty"`
	KnownSHA1 string `json:"known_git_sha1,omitempty"`
}

func listZoo(g *globalOptions, o *fetchOptions) error {
	zo := o.zooOptions()
	var entries []zooEntry
	var rows [][]string
	for _, it := range zoo.Catalogue() {
		states, err := zoo.Status(it, zo)
		if err != nil {
			return err
		}
		e := zooEntry{Name: it.Name, Description: it.Description, Cached: true}
		cached, partial, size := 0, int64(0), int64(0)
		for _, s := range states {
			e.Files = append(e.Files, zooFileJS{File: s.File.Name, URL: zo.URL(s.File), Path: s.Path, Cached: s.Cached,
				Size: s.Size, Partial: s.Partial, KnownSize: s.File.Size, KnownSHA1: s.File.GitSHA1})
			e.Cached = e.Cached && s.Cached
			if s.Cached {
				cached++
				size += s.Size
			}
			partial += s.Partial
		}
		entries = append(entries, e)
		state := "not cached"
		switch {
		case cached == len(states):
			state = "cached (" + fetchSizeText(size) + ")"
		case cached > 0:
			state = fmt.Sprintf("%d of %d files cached", cached, len(states))
		case partial > 0:
			state = "partial download (" + fetchSizeText(partial) + ")"
		}
		rows = append(rows, []string{it.Name, state, it.Description})
	}
	if g.JSON {
		return writeJSON(g.io.Out, entries)
	}
	return writeTable(g.io.Out, []string{"name", "state", "description"}, rows)
}

// fetchSizeText writes n in B, KiB, MiB or GiB with three significant digits.
func fetchSizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.3g %s", v, [...]string{"B", "KiB", "MiB", "GiB"}[i])
}
