package zoo

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// DefaultBaseURL is where OFA serves its published files (the URLs that
// OFA's own code downloads from).
const DefaultBaseURL = "https://raw.githubusercontent.com/han-cai/files/master/"

// BaseURLEnv names the environment variable that replaces [DefaultBaseURL]
// when [Options.BaseURL] is empty, for mirrors and tests. The mirror must
// keep OFA's paths (ofa/ofa_nets/..., ofa/acc_predictor.pth, ofa/note10/...).
const BaseURLEnv = "EDGEFIT_OFA_BASE_URL"

// Names of the catalogue's items.
const (
	SupernetW10  = "ofa-mbv3-w1.0"
	SupernetW12  = "ofa-mbv3-w1.2"
	AccPredictor = "acc-predictor"
	LUTNote10    = "lut-note10"
)

// An Item is one thing that can be fetched: a supernet, a predictor, or a
// set of lookup tables.
type Item struct {
	Name        string // what users type: "ofa-mbv3-w1.0"
	Description string // one line for listings
	Files       []File
}

// A File is one published file of an [Item].
type File struct {
	// URLPath is the file's path under the base URL, as OFA publishes it.
	URLPath string
	// Name is the file's slash-separated path inside the cache directory.
	Name string
	// Size is the published file's length in bytes; 0 when unknown.
	Size int64
	// GitSHA1 is the hex git blob SHA-1 of the published file (what
	// "git hash-object FILE" prints); "" when unknown.
	GitSHA1 string
	// Verify checks the file's structure (it loads as what it claims to
	// be). It runs on every download and import, whether or not the size
	// and hash are known.
	Verify func(path string) error
}

// upstreamName is the file's base name on OFA's server, which is how a
// user who downloaded it by hand will most likely have it named.
func (f File) upstreamName() string { return path.Base(f.URLPath) }

// Known values of OFA's published files: lengths and git blob SHA-1s of
// unchanged copies of ofa/acc_predictor.pth and ofa/note10/*.yaml. The
// supernets' bytes are not known here, so they are checked by structure
// only.
var note10Tables = []struct {
	r    int
	size int64
	sha1 string
}{
	{160, 15088, "bac606f6deca29ba0cd00529932846ff6b7176ed"},
	{176, 15047, "47d496c18aaad9c1dbdef051a54f346834bdd83c"},
	{192, 15076, "083adbb96e3d7ad139c183fa53527f1583aec477"},
	{208, 15083, "05b975f7827339707fb2a08d5b02388c3cb1e414"},
	{224, 15007, "e33f3354599dddbbbedc4b8658790a7ac51e6dcb"},
}

const (
	accPredictorSize = 1492497
	accPredictorSHA1 = "f6a9ab2f66b7e2f6e097a1e32faafe60a4d22fcf"
)

// Catalogue returns every item, in a stable order. The slice is new on
// each call; callers may modify it.
func Catalogue() []Item {
	lut := Item{
		Name:        LUTNote10,
		Description: "OFA's Samsung Note10 latency tables (w1.2 space), r=160..224",
	}
	for _, t := range note10Tables {
		name := fmt.Sprintf("%d_lookup_table.yaml", t.r)
		r := t.r
		lut.Files = append(lut.Files, File{
			URLPath: "ofa/note10/" + name,
			Name:    "note10/" + name,
			Size:    t.size,
			GitSHA1: t.sha1,
			Verify:  func(p string) error { return verifyLUT(p, r) },
		})
	}
	return []Item{
		supernetItem(SupernetW10, "1.0", 1.0),
		supernetItem(SupernetW12, "1.2", 1.2),
		{
			Name:        AccPredictor,
			Description: "OFA's tutorial accuracy predictor (MLP 128-400-400-400-1, trained on w1.2)",
			Files: []File{{
				URLPath: "ofa/acc_predictor.pth",
				Name:    "acc_predictor.pth",
				Size:    accPredictorSize,
				GitSHA1: accPredictorSHA1,
				Verify:  verifyAccPredictor,
			}},
		},
		lut,
	}
}

func supernetItem(name, w string, width float64) Item {
	base := "ofa_mbv3_d234_e346_k357_w" + w
	return Item{
		Name:        name,
		Description: "OFA MobileNetV3 supernet, width " + w + " (ImageNet, 1000 classes)",
		Files: []File{{
			URLPath: "ofa/ofa_nets/" + base,
			Name:    base + ".pth",
			Verify:  func(p string) error { return verifySupernet(p, width) },
		}},
	}
}

// Lookup returns the catalogue item called name. Its error lists the names
// that exist.
func Lookup(name string) (Item, error) {
	items := Catalogue()
	for _, it := range items {
		if it.Name == name {
			return it, nil
		}
	}
	return Item{}, fmt.Errorf("no item %q in OFA's catalogue: choose one of %s", name, strings.Join(Names(), ", "))
}

// Names returns the names of the catalogue's items.
func Names() []string {
	var names []string
	for _, it := range Catalogue() {
		names = append(names, it.Name)
	}
	return slices.Clip(names)
}
