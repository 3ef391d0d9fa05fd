package cmd

// Golden tests of edgefit's one JSON schema: the keys (and the kinds of
// their values) of every --json output and of every JSON file edgefit
// writes, pinned as literal JSON skeletons. The rules, as the README's
// "JSON" section states them: snake_case keys; units in the key (_ms,
// _seconds, _bytes, _khz, _c); fractions in [0, 1] named as such
// (_fraction, or accuracy and cov, which are fractions by definition);
// percentages only where the key says so (_pct, _pct_points); unset
// values left out; numbers as numbers.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// Skeleton fragments shared by several outputs.
const (
	configKeys    = `{"ks":[],"e":[],"d":[],"r":0}`
	candidateKeys = `{"accuracy":0,"latency_ms":0,"peak_memory_bytes":0,"params":0,"macs":0,"weight_bytes":0,"config":` + configKeys + `}`
	statsKeys     = `{"median_ms":0,"mean_ms":0,"p10_ms":0,"p90_ms":0,"std_ms":0,"n":0,"cov":0,"timed_runs":0}`
	metricsKeys   = `{"n":0,"rmse_ms":0,"rmspe_pct":0,"mape_pct":0,"within_5pct_fraction":0,"within_10pct_fraction":0,"spearman":null}`
	runtimeKeys   = `{"name":"","version":"","provider":"","threads":0,"batch":0}`
	// Every key a fingerprint may have; a device shows some of them.
	fingerprintKeys = `{"target":"","os":"","kernel":"","arch":"","machine":"","distro":"","cpu_model":"","cores":0,
		"clusters":[{"policy":"","cpus":[],"core_type":"","min_freq_khz":0,"max_freq_khz":0,"cur_freq_khz":0,"governor":"","scaling_min_khz":0,"scaling_max_khz":0}],
		"thermal":[{"zone":"","type":"","temp_c":0}],"mem_total_bytes":0,"mem_available_bytes":0,
		"android":{"model":"","manufacturer":"","soc":"","abi":"","release":"","sdk":""},"jetson":{"l4t":"","power_mode":""},
		"runtime":{"ort_version":"","library":"","providers":[],"agent":"","provider":"","provider_nodes":{"*":0}}}`
	layerShapeKeys = `{"kind":"","in_size":0,"out_size":0,"in_channels":0,"out_channels":0,"mid_channels":0,"kernel":0,"stride":0,"se_channels":0,"act":"","residual":false,"expand":false}`
	kindReportKeys = `{"kind":"","samples":0,"distinct":0,"features":[],"coef":[],"train":` + metricsKeys + `,"cv":` + metricsKeys + `,"folds":0,"channel_cv":` + metricsKeys + `,"groups":0}`
	benchKeys      = `{"model":"","target":"","class":"","runtime":` + runtimeKeys + `,"cpus":[],"stats":` + statsKeys + `,"median_ci95_fraction":0,"stop":"",
		"load_ms":0,"first_run_ms":0,"peak_rss_bytes":0,"provider_nodes":{"*":0},"warnings":[]}`
	rerankKeys         = `{"config":` + configKeys + `,"predicted_accuracy":0,"measured_top1":0,"measured_top5":0,"latency_ms":0,"macs":0,"wall_seconds":0,"chosen":false}`
	accuracyChoiceKeys = `{"chosen":"","reason":"",
		"ridge":{"unit":"","percent":false,"samples":0,"folds":0,"lambda":0,"train_rmse_pct_points":0,"cv_rmse_pct_points":0,"cv_mae_pct_points":0,"cv_spearman":0},
		"mlp":{"percent":false,"samples":0,"folds":0,"hidden":0,"hidden_layers":0,"epochs":0,"batch_size":0,"learning_rate":0,"weight_decay":0,"base_acc":0,"seed":0,"resolutions":[],
			"train_rmse_pct_points":0,"cv_rmse_pct_points":0,"cv_mae_pct_points":0,"cv_spearman":0}}`
)

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// jsonKind names the kind of a decoded JSON value.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// keyKinds lists the key paths of v ("a", "a.b", "a[].c": the elements of
// an array share one path) with the kinds of their values. A key that
// wild says stands for any key (known says which paths are literal)
// becomes "*".
func keyKinds(v any, path string, out map[string][]string, wild func(parent string) bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if wild(path) {
				p = strings.TrimPrefix(path+".*", ".")
			}
			out[p] = append(out[p], jsonKind(e))
			keyKinds(e, p, out, wild)
		}
	case []any:
		for _, e := range x {
			keyKinds(e, path+"[]", out, wild)
		}
	}
}

// checkSchema compares the JSON document doc with the literal skeleton:
// the same key paths, and, where the skeleton's value is not null, the
// same kind of value (numbers as numbers). Paths equal to or under a
// prefix in open may be missing from doc (a device shows some of a
// fingerprint's keys), never be extra. Every key outside "*" maps is
// snake_case.
func checkSchema(t *testing.T, name string, doc []byte, skeleton string, open ...string) {
	t.Helper()
	var sk, got any
	if err := json.Unmarshal([]byte(skeleton), &sk); err != nil {
		t.Fatalf("%s: the skeleton is not JSON: %v", name, err)
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%s: output is not JSON: %v\n%.300s", name, err, doc)
	}
	want := map[string][]string{}
	keyKinds(sk, "", want, func(string) bool { return false })
	have := map[string][]string{}
	keyKinds(got, "", have, func(parent string) bool { _, ok := want[strings.TrimPrefix(parent+".*", ".")]; return ok })
	var missing, extra, kinds, notSnake []string
	for p, ks := range have {
		wk, ok := want[p]
		if !ok {
			extra = append(extra, p)
			continue
		}
		if wk[0] != "null" && slices.ContainsFunc(ks, func(k string) bool { return k != wk[0] && k != "null" }) {
			kinds = append(kinds, fmt.Sprintf("%s is %v, want %s", p, slices.Compact(slices.Sorted(slices.Values(ks))), wk[0]))
		}
		for _, seg := range strings.Split(strings.ReplaceAll(p, "[]", ""), ".") {
			if seg != "*" && seg != "" && !snakeKey.MatchString(seg) {
				notSnake = append(notSnake, p)
			}
		}
	}
	for p := range want {
		// timed_runs is there only where some timed runs were left out.
		if _, ok := have[p]; !ok && !strings.HasSuffix(p, ".timed_runs") &&
			!slices.ContainsFunc(open, func(o string) bool { return p == o || strings.HasPrefix(p, o+".") || strings.HasPrefix(p, o+"[]") }) {
			missing = append(missing, p)
		}
	}
	for _, l := range [][]string{missing, extra, kinds, notSnake} {
		sort.Strings(l)
	}
	if len(missing)+len(extra)+len(kinds)+len(notSnake) > 0 {
		t.Errorf("%s: keys not as the schema says:\n  missing %q\n  unexpected %q\n  kinds %q\n  not snake_case %q", name, missing, extra, kinds, notSnake)
	}
}

func mustRunJSON(t *testing.T, args ...string) []byte {
	t.Helper()
	out, stderr, err := run(t, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr)
	}
	return []byte(out)
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJSONSchemaTables covers what works from OFA's Note10 tables: lut
// import, show and export, predictor fit, select, predict, export, the
// files they write, the JSON of failures, version and a local probe.
func TestJSONSchemaTables(t *testing.T) {
	testfix.Need(t, testfix.ORT, ort.Init(""))
	shared := sharedDir(t)
	dir := t.TempDir()
	table := filepath.Join(dir, "n10.lut.json")
	checkSchema(t, "lut import --json", mustRunJSON(t, "lut", "import", "--space", "ofa-mbv3-w1.2", filepath.Join(shared, "ofa-upstream/note10"), "-o", table, "--json"),
		`{"output":"","space":"","entries":0,"resolutions":[]}`)
	checkSchema(t, "an imported lookup table", readBytes(t, table),
		`{"version":0,"space":"","target":"","source":"","runtime":{"name":"","batch":0},"settings":{"warmup":0,"min_runs":0,"max_runs":0},"unit":"","statistic":"",
			"entries":[{"key":"","resolution":0,"layer":`+layerShapeKeys+`,"stats":{"mean_ms":0,"median_ms":0,"std_ms":0,"n":0,"cov":0}}]}`)
	checkSchema(t, "lut show --json", mustRunJSON(t, "lut", "show", table, "--json"),
		`{"path":"","space":"","target":"","source":"","runtime":{"name":"","batch":0},"statistic":"","settings":{"warmup":0,"min_runs":0,"max_runs":0},
			"entries":0,"networks":0,"median_cov":0,
			"resolutions":[{"resolution":0,"entries":0,"missing":0,"networks":0,"median_cov":0,"min_subnet_ms":0,"max_subnet_ms":0}],
			"resolution_min":0,"resolution_max":0,"low_n_threshold":0}`)
	checkSchema(t, "lut export --json", mustRunJSON(t, "lut", "export", table, "-o", filepath.Join(dir, "yaml"), "--json"), `{"files":[]}`)

	pred := filepath.Join(dir, "n10.pred.json")
	fitReport := `{"space":"","lut_space":"","target":"","entries":0,"lut_resolutions":[],"resolutions":[],"kinds":[` + kindReportKeys + `],
		"resolution_holdout":[{"r":0,"layers":` + metricsKeys + `,"subnets":` + metricsKeys + `}],"calibration":{"networks":0,"used":false,"reason":""}}`
	checkSchema(t, "predictor fit --json", mustRunJSON(t, "predictor", "fit", table, "-o", pred, "--json"), `{"output":"","report":`+fitReport+`}`)
	checkSchema(t, "a predictor file", readBytes(t, pred),
		`{"format":"","version":0,"predictor":{"space":"","lut_space":"","target":"","runtime":{"name":"","batch":0},"statistic":"","lut_source":"",
			"lut_resolutions":[],"resolutions":[],"family_correction":false,"lambda":0},
			"models":[{"kind":"","features":[],"coef":[]}],"measured":[{"r":0,"key":"","latency_ms":0}],"report":`+fitReport+`}`)

	cfg := filepath.Join(dir, "subnet.json")
	acc := filepath.Join(shared, "ofa-upstream/acc_predictor.pth")
	checkSchema(t, "select --json", mustRunJSON(t, "select", "--predictor", pred, "--acc", acc, "--max-latency", "20ms", "--max-memory", "90%", "--top", "2", "-o", cfg, "--json"),
		`{"space":"","predictor":"","accuracy_source":"","accuracy_is_proxy":false,
			"limits":{"max_latency_ms":0,"max_memory_bytes":0,"max_memory_fraction":0},
			"top":[`+candidateKeys+`],"front":[`+candidateKeys+`],"candidates_scored":0,"wall_seconds":0,"generations":0,
			"measured_resolutions":[],"latency_extrapolated":false}`)
	checkSchema(t, "a config file", readBytes(t, cfg), `{"space":"","ks":[],"e":[],"d":[],"r":0}`)
	checkSchema(t, "a Pareto front file", readBytes(t, filepath.Join(dir, "subnet.front.json")),
		`{"space":"","objectives":[],"limits":{"max_latency_ms":0,"max_memory_bytes":0,"max_memory_fraction":0},"chosen":`+candidateKeys+`,
			"front":[`+candidateKeys+`],"candidates_scored":0}`)
	checkSchema(t, "select --allow-extrapolation --json", mustRunJSON(t, "select", "--predictor", pred, "--max-macs", "300M", "--max-params", "5M",
		"--res", "256", "--allow-extrapolation", "--pareto=false", "--json"),
		`{"space":"","predictor":"","accuracy_source":"","accuracy_is_proxy":false,"limits":{"max_params":0,"max_macs":0},
			"top":[`+candidateKeys+`],"candidates_scored":0,"wall_seconds":0,"generations":0,
			"measured_resolutions":[],"latency_extrapolated":true,"warnings":[]}`)
	checkSchema(t, "select --method rl --json", mustRunJSON(t, "select", "--predictor", pred, "--acc", acc, "--max-latency", "20ms", "--method", "rl", "--max-predictions", "200", "--pareto=false", "--top", "2", "--json"),
		`{"space":"","predictor":"","accuracy_source":"","accuracy_is_proxy":false,"limits":{"max_latency_ms":0},
			"top":[`+candidateKeys+`],"candidates_scored":0,"wall_seconds":0,"generations":0,"measured_resolutions":[],"latency_extrapolated":false}`)
	checkSchema(t, "predict --json", mustRunJSON(t, "predict", "--predictor", pred, "--config", cfg, "--json"),
		`{"space":"","predictor":"","accuracy_source":"","accuracy_is_proxy":false,"measured_resolutions":[],
			"subnets":[{"source":"","accuracy":0,"latency_ms":0,"peak_memory_bytes":0,"params":0,"macs":0,"weight_bytes":0,"config":`+configKeys+`,"latency_extrapolated":false}]}`)
	exportKeys := `{"output":"","space":"","config":` + configKeys + `,"untrained":false,"macs":0,"params":0,"peak_memory_bytes":0,"bn_statistics":"","verified":false`
	checkSchema(t, "export --verify --json", mustRunJSON(t, "export", "--config", cfg, "-o", filepath.Join(dir, "m.onnx"), "--verify", "--json"),
		exportKeys+`,"verify_max_abs_diff":0,"verify_tolerance":0}`)
	ck := filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth")
	w10, _ := supernet.NewSpace(1.0)
	checkSchema(t, "export --checkpoint --json", mustRunJSON(t, "export", "--config", writeConfig(t, w10.MinConfig(160)), "--checkpoint", ck, "-o", filepath.Join(dir, "c.onnx"), "--json"),
		exportKeys+`,"checkpoint":"","checkpoint_sha256":""}`)

	checkSchema(t, "version --json", mustRunJSON(t, "version", "--json"), `{"version":"","go":""}`)
	checkSchema(t, "devices probe --json", mustRunJSON(t, "devices", "probe", "local", "--json"), fingerprintKeys,
		"kernel", "distro", "cpu_model", "clusters", "thermal", "mem_total_bytes", "mem_available_bytes", "android", "jetson", "runtime")

	// Failures print their report on stdout, with the exit code.
	for _, tc := range []struct {
		name     string
		args     []string
		skeleton string
	}{
		{"a usage error", []string{"select", "--predictor", pred, "--max-latency", "20", "--json"}, `{"error":"","hints":[],"exit_code":0}`},
		{"a flag error", []string{"select", "--json", "--no-such-flag"}, `{"error":"","hints":[],"exit_code":0}`},
		{"limits no subnet meets", []string{"select", "--predictor", pred, "--max-latency", "1ms", "--max-macs", "10%", "--json"},
			`{"error":"","hints":[],"exit_code":0,"limits":{"max_latency_ms":0,"max_macs":0,"max_macs_fraction":0},
				"minima":{"max_latency_ms":{"limit":0,"smallest":0,"others_met":false,"config":` + configKeys + `},
					"max_macs":{"limit":0,"smallest":0,"others_met":false,"config":` + configKeys + `}}}`},
	} {
		out, _, err := run(t, tc.args...)
		if err == nil {
			t.Fatalf("%s: %v succeeded", tc.name, tc.args)
		}
		checkSchema(t, tc.name+" under --json", []byte(out), tc.skeleton)
		var e struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
		}
		if json.Unmarshal([]byte(out), &e) != nil || e.ExitCode != ExitCodeOf(err) || e.Error != err.Error() {
			t.Errorf("%s: the report says %q, exit %d; the command failed with %q, exit %d", tc.name, e.Error, e.ExitCode, err, ExitCodeOf(err))
		}
	}
}

// TestJSONSchemaFitAccuracy covers predictor fit-accuracy and the model
// it writes.
func TestJSONSchemaFitAccuracy(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	out := filepath.Join(t.TempDir(), "acc.json")
	checkSchema(t, "predictor fit-accuracy --json", mustRunJSON(t, "predictor", "fit-accuracy", accuracyCSV(t, s, 60, []int{160, 192, 224}),
		"--space", "ofa-mbv3-w1.0", "-o", out, "--epochs", "3", "--json"),
		`{"output":"","accuracy_source":"","choice":`+accuracyChoiceKeys+`}`)
	checkSchema(t, "a fitted accuracy model", readBytes(t, out),
		`{"format":"","version":0,"space":"","source":"","coef":[],"choice":`+accuracyChoiceKeys+`,
			"report":{"unit":"","percent":false,"samples":0,"folds":0,"lambda":0,"train_rmse_pct_points":0,"cv_rmse_pct_points":0,"cv_mae_pct_points":0,"cv_spearman":0}}`)
}

// TestJSONSchemaDevice covers what measures on this machine: profile
// (and its table), predictor fit and eval on it, bench, run, its
// report.json and config, and a run that fails with its result.
func TestJSONSchemaDevice(t *testing.T) {
	ag := needAgent(t)
	dir := t.TempDir()
	table := filepath.Join(dir, "p.lut.json")
	prof := append([]string{"profile", "local", "--space", "ofa-mbv3-w1.0", "--agent", ag, "-o", table, "--json"}, quickProfileArgs...)
	checkSchema(t, "profile --dry-run --json", mustRunJSON(t, append(prof, "--dry-run")...),
		`{"target":"","class":"","identity":{"space":"","resolutions":[],"batch":0,"threads":0,"provider":"","runner":"","cpu_affinity":"","networks":0,"seed":0,
			"measure":{"warmup":0,"min_runs":0,"max_runs":0,"target_ci_fraction":0,"max_time_seconds":0,"sample_ms":0,"rounds":0}},
			"entries":0,"networks":0,"done":0,"remaining":0,"reference":"","warnings":[]}`, "identity.measure.rounds", "warnings")
	checkSchema(t, "profile --json", mustRunJSON(t, append(prof, "--networks", "3")...),
		`{"space":"","target":"","runtime":`+runtimeKeys+`,"resolutions":[],"entries":0,"networks":0,"median_cov":0,"median_runs":0,
			"output":"","journal":"","class":"","measured":0,"resumed":0,"wall_seconds":0,"remeasured_batches":0,"rebaselined_batches":0,"drift_noise_fraction":0,"warnings":[]}`,
		"warnings")
	checkSchema(t, "a profiled lookup table", readBytes(t, table),
		`{"version":0,"space":"","target":"","fingerprint_before":`+fingerprintKeys+`,"fingerprint_after":`+fingerprintKeys+`,
			"runtime":`+runtimeKeys+`,
			"settings":{"warmup":0,"min_runs":0,"max_runs":0,"target_ci_fraction":0,"max_seconds":0,"cpu_affinity":"","shuffled":false,
				"extra":{"class":"","drift_noise_fraction":0,"drift_threshold_fraction":0,"networks":0,"reference":"","rounds":0,"runner":"","sample_ms":0,"seed":0}},
			"unit":"","statistic":"","entries":[{"key":"","resolution":0,"layer":`+layerShapeKeys+`,"stats":`+statsKeys+`}],
			"networks":[{"config":`+configKeys+`,"stats":`+statsKeys+`}]}`,
		"fingerprint_before", "fingerprint_after")
	pred := filepath.Join(dir, "p.pred.json")
	checkSchema(t, "predictor fit --json on a profile", mustRunJSON(t, "predictor", "fit", table, "-o", pred, "--json"),
		`{"output":"","report":{"space":"","lut_space":"","target":"","entries":0,"lut_resolutions":[],"resolutions":[],"kinds":[`+kindReportKeys+`],
			"calibration":{"networks":0,"used":false,"reason":""},"networks":`+metricsKeys+`}}`)
	checkSchema(t, "predictor eval --json", mustRunJSON(t, "predictor", "eval", pred, table, "--json"), metricsKeys)

	w10, _ := supernet.NewSpace(1.0)
	model := filepath.Join(dir, "m.onnx")
	mustRunJSON(t, "export", "--config", writeConfig(t, w10.MinConfig(96)), "-o", model)
	checkSchema(t, "bench --layers --json", mustRunJSON(t, "bench", "local", model, "--agent", ag, "--layers", "--min-runs", "5", "--max-runs", "20", "--max-time", "300ms", "--json"),
		strings.TrimSuffix(benchKeys, "}")+`,"layers":{"nodes":[{"name":"","op":"","provider":"","node_index":0,"input_shapes":[],"output_shapes":[],"stats":`+statsKeys+`,"share_fraction":0}],
			"runs":0,"run":`+statsKeys+`}}`, "warnings", "stats.cov", "layers.run.cov")

	out := filepath.Join(dir, "run")
	runArgs := append([]string{"run", "local", "--agent", ag, "--lut-cache", filepath.Join(dir, "cache"), "--json"}, quickRunArgs...)
	runKeys := `{"target":"","fingerprint":` + fingerprintKeys + `,"space":"","runtime":` + runtimeKeys + `,"lut":"","lut_reused":false,
		"lut_summary":{"space":"","target":"","runtime":` + runtimeKeys + `,"resolutions":[],"entries":0,"networks":0,"median_cov":0,"median_runs":0},
		"predictor":"","fit":{"space":"","lut_space":"","target":"","entries":0,"lut_resolutions":[],"resolutions":[],"kinds":[` + kindReportKeys + `],
			"calibration":{"networks":0,"used":false,"reason":""},"networks":` + metricsKeys + `},
		"limits":{"max_latency_ms":0},"latency_extrapolated":false,"accuracy_source":"","accuracy_is_proxy":false,"untrained":false,
		"attempts":[{"limits":{"max_latency_ms":0},"chosen":` + candidateKeys + `,"measured_ms":0,"measured_p90_ms":0,"measured_peak_rss_bytes":0,"met":false}],
		"front":[` + candidateKeys + `],"model":"","verified":false,"verify_max_abs_diff":0,"verify_tolerance":0,
		"files":{"model":"","config":"","lut":"","predictor":"","json_front":"","csv_front":"","png_front":"","svg_front":"","report":"","report_json":""},
		"search":{"method":"","seed":0,"candidates_scored":0,"generations":0,"wall_seconds":0},"warnings":[],"wall_seconds":0,"bench":` + benchKeys + `,
		"bn_statistics":""}`
	runOpen := []string{"fingerprint", "warnings", "bench.warnings", "bench.stats.cov"}
	checkSchema(t, "run --json", mustRunJSON(t, append(runArgs, "-o", out, "--max-latency", "1s")...), runKeys, runOpen...)
	checkSchema(t, "report.json", readBytes(t, filepath.Join(out, "report.json")), runKeys, runOpen...)
	checkSchema(t, "run's subnet.json", readBytes(t, filepath.Join(out, "subnet.json")), `{"space":"","ks":[],"e":[],"d":[],"r":0}`)

	// A run whose model misses the limit fails with its complete result.
	stdout, _, err := run(t, append(runArgs, "-o", filepath.Join(dir, "miss"), "--lut", table, "--max-latency", "40%", "--latency-scale", "0.05")...)
	if ExitCodeOf(err) != ExitMismatch {
		t.Fatalf("a run predicted 20 times too fast: %v", err)
	}
	checkSchema(t, "a failed run under --json", []byte(stdout),
		`{"error":"","hints":[],"exit_code":0,"result":`+strings.ReplaceAll(runKeys, `"limits":{"max_latency_ms":0}`, `"limits":{"max_latency_ms":0,"max_latency_fraction":0}`)+`}`,
		"result.fingerprint", "result.warnings", "result.bench.warnings", "result.bench.stats.cov", "result.fit.networks", "result.front",
		"result.attempts[].measured_peak_rss_bytes")
}

// TestJSONSchemaTrust covers devices trust.
func TestJSONSchemaTrust(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	checkSchema(t, "devices trust --json", mustRunJSON(t, "devices", "trust", sshd.URL, "--known-hosts", filepath.Join(t.TempDir(), "kh"), "--ssh-config", "none", "--json"),
		`{"addr":"","key_type":"","fingerprint":"","known_hosts":"","added":false}`)
}

// TestJSONSchemaFetch covers fetch and fetch --list.
func TestJSONSchemaFetch(t *testing.T) {
	ofaMirror(t, nil)
	cache := t.TempDir()
	checkSchema(t, "fetch --json", mustRunJSON(t, "fetch", "acc-predictor", "--cache", cache, "--json"),
		`[{"item":"","file":"","path":"","size_bytes":0,"git_sha1":"","source":""}]`)
	checkSchema(t, "fetch --list --json", mustRunJSON(t, "fetch", "--list", "--cache", cache, "--json"),
		`[{"name":"","description":"","cached":false,"files":[{"file":"","url":"","path":"","cached":false,"size_bytes":0,"known_size_bytes":0,"known_git_sha1":""}]}]`)
}
