package ort

// The bindings do not wrap OrtApi::GetAvailableProviders nor the NNAPI
// append function, so this file reaches them through the C API directly.
// OrtApi is a table of function pointers whose order ONNX Runtime never
// changes (new functions are only appended), so the slots below hold for
// every release since the functions appeared.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef void OrtStatus;
typedef struct {
	const void *(*GetApi)(uint32_t version);
	const char *(*GetVersionString)(void);
} edgefitOrtApiBase;

enum {
	slotGetErrorMessage = 2,
	slotReleaseStatus = 93,
	slotGetAvailableProviders = 125,
	slotReleaseAvailableProviders = 126,
	slotSessionGetEpGraphAssignmentInfo = 407,
	slotEpAssignedSubgraphGetEpName = 408,
	slotEpAssignedSubgraphGetNodes = 409,
};

typedef const char *(*getErrorMessageFn)(const OrtStatus *);
typedef void (*releaseStatusFn)(OrtStatus *);
typedef OrtStatus *(*getProvidersFn)(char ***, int *);
typedef OrtStatus *(*releaseProvidersFn)(char **, int);
typedef OrtStatus *(*appendNnapiFn)(void *, uint32_t);
typedef OrtStatus *(*getAssignmentFn)(const void *, const void *const **, size_t *);
typedef OrtStatus *(*subgraphEpNameFn)(const void *, const char **);
typedef OrtStatus *(*subgraphNodesFn)(const void *, const void *const **, size_t *);

static void *edgefit_open(const char *path) {
	return dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
}

static void *const *edgefit_api(void *lib, uint32_t version) {
	const edgefitOrtApiBase *(*getBase)(void) = (const edgefitOrtApiBase *(*)(void))dlsym(lib, "OrtGetApiBase");
	if (getBase == NULL) return NULL;
	const edgefitOrtApiBase *base = getBase();
	if (base == NULL) return NULL;
	return (void *const *)base->GetApi(version);
}

// edgefit_status_message copies the status message into a malloc'd string
// and releases the status.
static char *edgefit_status_message(void *const *api, OrtStatus *st) {
	const char *msg = ((getErrorMessageFn)api[slotGetErrorMessage])(st);
	char *out = NULL;
	if (msg != NULL) {
		size_t n = 0;
		while (msg[n]) n++;
		out = malloc(n + 1);
		for (size_t i = 0; i <= n; i++) out[i] = msg[i];
	}
	((releaseStatusFn)api[slotReleaseStatus])(st);
	return out;
}

static char *edgefit_providers(void *const *api, char ***out, int *n) {
	OrtStatus *st = ((getProvidersFn)api[slotGetAvailableProviders])(out, n);
	return st ? edgefit_status_message(api, st) : NULL;
}

static void edgefit_release_providers(void *const *api, char **p, int n) {
	OrtStatus *st = ((releaseProvidersFn)api[slotReleaseAvailableProviders])(p, n);
	if (st) ((releaseStatusFn)api[slotReleaseStatus])(st);
}

// edgefit_assignment returns the session's subgraphs, each assigned to one
// execution provider (the session must have been created with
// session.record_ep_graph_assignment_info=1).
static char *edgefit_assignment(void *const *api, const void *session, const void *const **subgraphs, size_t *n) {
	OrtStatus *st = ((getAssignmentFn)api[slotSessionGetEpGraphAssignmentInfo])(session, subgraphs, n);
	return st ? edgefit_status_message(api, st) : NULL;
}

// edgefit_subgraph gives a subgraph's provider name (owned by ONNX
// Runtime) and how many nodes it holds.
static char *edgefit_subgraph(void *const *api, const void *const *subgraphs, size_t i, const char **ep, size_t *nodes) {
	OrtStatus *st = ((subgraphEpNameFn)api[slotEpAssignedSubgraphGetEpName])(subgraphs[i], ep);
	if (st) return edgefit_status_message(api, st);
	const void *const *list = NULL;
	st = ((subgraphNodesFn)api[slotEpAssignedSubgraphGetNodes])(subgraphs[i], &list, nodes);
	return st ? edgefit_status_message(api, st) : NULL;
}

static char *edgefit_append_nnapi(void *lib, void *const *api, void *options, uint32_t flags, int *missing) {
	appendNnapiFn fn = (appendNnapiFn)dlsym(lib, "OrtSessionOptionsAppendExecutionProvider_Nnapi");
	if (fn == NULL) { *missing = 1; return NULL; }
	OrtStatus *st = fn(options, flags);
	return st ? edgefit_status_message(api, st) : NULL;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/edgefit/edgefit/internal/ortlib"
)

// capi returns the loaded library's handle and OrtApi table.
func capi() (lib unsafe.Pointer, api *unsafe.Pointer, err error) {
	p := LibraryPath()
	if p == "" {
		return nil, nil, requireInit()
	}
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	lib = C.edgefit_open(cp)
	if lib == nil {
		return nil, nil, fmt.Errorf("reopen ONNX Runtime library %s: %s", p, C.GoString(C.dlerror()))
	}
	// RTLD_NOLOAD still counts a reference; drop it, the bindings keep
	// their own.
	defer C.dlclose(lib)
	a := C.edgefit_api(lib, ortlib.BindingsAPIVersion)
	if a == nil {
		return nil, nil, fmt.Errorf("ONNX Runtime library %s does not offer C API version %d: use ONNX Runtime 1.%d or newer", p, ortlib.BindingsAPIVersion, ortlib.BindingsAPIVersion)
	}
	return lib, (*unsafe.Pointer)(unsafe.Pointer(a)), nil
}

// servesAPI reports whether the loaded library serves C API version v
// (its GetApi returns NULL, and prints why, when it does not).
func servesAPI(v int) (bool, error) {
	lib, _, err := capi()
	if err != nil {
		return false, err
	}
	return C.edgefit_api(lib, C.uint32_t(v)) != nil, nil
}

// AvailableProviders returns the execution providers the loaded library was
// built with, in ONNX Runtime's names and order of preference, such as
// ["CPUExecutionProvider"]. Being listed does not guarantee that a
// provider's own shared library or driver is present; [Open] reports that.
func AvailableProviders() ([]string, error) {
	_, api, err := capi()
	if err != nil {
		return nil, err
	}
	var list **C.char
	var n C.int
	if msg := C.edgefit_providers((*unsafe.Pointer)(unsafe.Pointer(api)), &list, &n); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return nil, fmt.Errorf("list ONNX Runtime execution providers: %s", C.GoString(msg))
	}
	defer C.edgefit_release_providers((*unsafe.Pointer)(unsafe.Pointer(api)), list, n)
	names := make([]string, int(n))
	for i, p := range unsafe.Slice(list, int(n)) {
		names[i] = C.GoString(p)
	}
	return names, nil
}

// rawSessionOptions returns the OrtSessionOptions pointer the bindings keep
// unexported. The layout is checked by reflection first so that a changed
// bindings version fails with an error instead of corrupting memory.
func rawSessionOptions(o *onnxruntime.SessionOptions) (unsafe.Pointer, error) {
	t := reflect.TypeOf(*o)
	if t.NumField() != 1 || t.Field(0).Name != "o" || t.Field(0).Type.Kind() != reflect.Pointer {
		return nil, errors.New("the onnxruntime_go bindings changed their SessionOptions layout: NNAPI cannot be enabled with this build of edgefit")
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(o)), nil
}

// rawSession returns the OrtSession pointer the bindings keep unexported,
// checked by reflection like [rawSessionOptions].
func rawSession(s *onnxruntime.AdvancedSession) (unsafe.Pointer, error) {
	t := reflect.TypeOf(*s)
	if t.NumField() == 0 || t.Field(0).Name != "ortSession" || t.Field(0).Type.Kind() != reflect.Pointer {
		return nil, errors.New("the onnxruntime_go bindings changed their AdvancedSession layout: node assignments cannot be read with this build of edgefit")
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(s)), nil
}

// nodesByProvider counts the nodes ONNX Runtime assigned to each execution
// provider when it partitioned the session's graph (after the basic
// optimizations), keyed by ONNX Runtime's provider names.
func nodesByProvider(s *onnxruntime.AdvancedSession) (map[string]int, error) {
	_, api, err := capi()
	if err != nil {
		return nil, err
	}
	raw, err := rawSession(s)
	if err != nil {
		return nil, err
	}
	capiPtr := (*unsafe.Pointer)(unsafe.Pointer(api))
	var subgraphs *unsafe.Pointer
	var n C.size_t
	if msg := C.edgefit_assignment(capiPtr, raw, (**unsafe.Pointer)(unsafe.Pointer(&subgraphs)), &n); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return nil, fmt.Errorf("read node assignments: %s", C.GoString(msg))
	}
	counts := map[string]int{}
	for i := C.size_t(0); i < n; i++ {
		var ep *C.char
		var nodes C.size_t
		if msg := C.edgefit_subgraph(capiPtr, subgraphs, i, &ep, &nodes); msg != nil {
			defer C.free(unsafe.Pointer(msg))
			return nil, fmt.Errorf("read node assignments: %s", C.GoString(msg))
		}
		counts[C.GoString(ep)] += int(nodes)
	}
	return counts, nil
}

// appendNNAPI enables the Android NNAPI execution provider, which ONNX
// Runtime exposes only through its own exported function.
func appendNNAPI(o *onnxruntime.SessionOptions) error {
	lib, api, err := capi()
	if err != nil {
		return err
	}
	raw, err := rawSessionOptions(o)
	if err != nil {
		return err
	}
	var missing C.int
	msg := C.edgefit_append_nnapi(lib, (*unsafe.Pointer)(unsafe.Pointer(api)), raw, 0, &missing)
	if missing != 0 {
		return errors.New("this ONNX Runtime library has no NNAPI entry point (NNAPI exists only in Android builds)")
	}
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}
