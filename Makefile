# edgefit build, test and demo entry points. See README.md.

ORT_VERSION  := 1.24.1
ORT_CACHE    ?= $(HOME)/.cache/edgefit/onnxruntime/$(ORT_VERSION)
ORT_LIB_X64  := $(ORT_CACHE)/linux-x64/libonnxruntime.so.1
ORT_LIB_ARM64 := $(ORT_CACHE)/linux-arm64/libonnxruntime.so.1
export EDGEFIT_ORT_LIB ?= $(ORT_LIB_X64)

# ONNX Runtime's Android libraries: Microsoft's onnxruntime.aar as shipped in
# the npm package $(ORT_ANDROID_PACKAGE), cached per ABI under
# $(ORT_ANDROID_CACHE)/android-<abi>/ (with LICENSE and SOURCE.txt). Keep
# these in step with ort.AndroidPackage and ort.AndroidLibraryVersion.
ORT_ANDROID_PACKAGE := com.github.asus4.onnxruntime@0.4.9
ORT_ANDROID_VERSION := 1.29.0
ORT_ANDROID_CACHE   ?= $(dir $(ORT_CACHE))$(ORT_ANDROID_VERSION)
ORT_ANDROID_ABIS    := arm64-v8a armeabi-v7a x86_64
ORT_ANDROID_LIBS    := $(foreach abi,$(ORT_ANDROID_ABIS),$(ORT_ANDROID_CACHE)/android-$(abi)/libonnxruntime.so)

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/edgefit/edgefit/cmd.Version=$(VERSION)

GOARCH_HOST := $(shell $(GO) env GOARCH)

.PHONY: all build ort ort-android agent-android test test-deps test-short bench compare demo clean proto agents fuzz

all: build

# ort fetches the ONNX Runtime $(ORT_VERSION) shared libraries (linux x64 and
# arm64) from the onnxruntime-node npm package, without running its install
# scripts, and caches them under $(ORT_CACHE).
ort: $(ORT_LIB_X64) $(ORT_LIB_ARM64)

$(ORT_LIB_X64) $(ORT_LIB_ARM64) &:
	@mkdir -p $(ORT_CACHE)/tmp
	cd $(ORT_CACHE)/tmp && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null
	tar -xzf $(ORT_CACHE)/tmp/onnxruntime-node-$(ORT_VERSION).tgz -C $(ORT_CACHE)/tmp \
		package/bin/napi-v6/linux/x64/libonnxruntime.so.1 package/bin/napi-v6/linux/arm64/libonnxruntime.so.1
	mkdir -p $(ORT_CACHE)/linux-x64 $(ORT_CACHE)/linux-arm64
	mv $(ORT_CACHE)/tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $(ORT_LIB_X64)
	mv $(ORT_CACHE)/tmp/package/bin/napi-v6/linux/arm64/libonnxruntime.so.1 $(ORT_LIB_ARM64)
	rm -rf $(ORT_CACHE)/tmp

# ort-android fetches ONNX Runtime $(ORT_ANDROID_VERSION) for Android
# ($(ORT_ANDROID_ABIS)) without running any package scripts, and checks each
# library (ELF machine, bionic build, the C API version the bindings need)
# before caching it; scripts/ort-android does the extracting and checking.
ort-android: $(ORT_ANDROID_LIBS)

$(ORT_ANDROID_LIBS) &:
	@rm -rf $(ORT_ANDROID_CACHE)/tmp && mkdir -p $(ORT_ANDROID_CACHE)/tmp
	cd $(ORT_ANDROID_CACHE)/tmp && npm pack --silent --ignore-scripts $(ORT_ANDROID_PACKAGE) >/dev/null
	$(GO) run ./scripts/ort-android $(ORT_ANDROID_CACHE)/tmp/*.tgz $(ORT_ANDROID_CACHE)
	rm -rf $(ORT_ANDROID_CACHE)/tmp

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/edgefit ./cmd/edgefit

# test runs every test; the real-peer ones (sshd, adb, qemu, python3-onnx)
# need the Debian packages test-deps installs when run as root.
test: ort ort-android test-deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

test-deps:
	@scripts/test-deps

# demo is the README's main job: build, then pick and export the best subnet
# for this machine's CPU on the embedded default (OFA w1.0 space, untrained
# seeded weights, the labelled accuracy proxy). Its latency limit is relative
# (60% of the largest subnet's predicted latency here), so that the search
# makes a real choice on any machine, fast or slow.
DEMO_OUT ?= out/demo
DEMO_ARGS ?= --max-latency 60%
demo: build ort $(BIN)/edgefit-agent-linux-$(GOARCH_HOST)
	$(BIN)/edgefit run local $(DEMO_ARGS) -o $(DEMO_OUT)

test-short: ort
	$(GO) test -short ./...

# bench runs every benchmark, the search-method comparison (compare) among
# them, which alone takes about 8 minutes on two cores.
bench: ort
	$(GO) test -run '^$$' -bench . -benchmem -timeout 2h ./...

# compare prints the README's table: evolution, random and rl at the Note10
# budgets 15-50 ms with OFA's tutorial accuracy predictor, 5 seeds each, at
# equal predictions (it reads ../shared/ofa-upstream).
compare:
	$(GO) test -run '^$$' -bench '^BenchmarkCompareNote10$$' -benchtime 1x -timeout 2h ./supernet/search

# agents cross-builds edgefit-agent, the on-device measuring program, for
# linux/amd64 and linux/arm64 into $(BIN)/edgefit-agent-linux-<arch>. cgo is
# required (ONNX Runtime is loaded through onnxruntime_go); arm64 uses the
# Debian cross compiler (apt install gcc-aarch64-linux-gnu). The Android
# build is agent-android below (it needs the NDK; docs/devices.md).
AGENT_LDFLAGS := -X github.com/edgefit/edgefit/profiler/bench.Version=$(VERSION)
ARM64_CC ?= aarch64-linux-gnu-gcc

agents: $(BIN)/edgefit-agent-linux-amd64 $(BIN)/edgefit-agent-linux-arm64

$(BIN)/edgefit-agent-linux-amd64: FORCE
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o $@ ./cmd/edgefit-agent

$(BIN)/edgefit-agent-linux-arm64: FORCE
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=$(ARM64_CC) $(GO) build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o $@ ./cmd/edgefit-agent

# agent-android builds edgefit-agent for android/arm64 (arm64-v8a phones)
# with the NDK's clang for API level $(ANDROID_API) or newer, found through
# ANDROID_NDK_HOME (NDK r26 or newer); without one, scripts/android-cc says
# what to install and where to point the variable.
ANDROID_API ?= 24

agent-android: $(BIN)/edgefit-agent-android-arm64

$(BIN)/edgefit-agent-android-arm64: FORCE
	@cc=$$(scripts/android-cc aarch64-linux-android $(ANDROID_API)) || exit 1; \
	echo "CGO_ENABLED=1 GOOS=android GOARCH=arm64 CC=$$cc $(GO) build -trimpath -o $@ ./cmd/edgefit-agent"; \
	CGO_ENABLED=1 GOOS=android GOARCH=arm64 CC="$$cc" $(GO) build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o $@ ./cmd/edgefit-agent

.PHONY: FORCE
FORCE:

# proto regenerates export/onnxpb from its .proto (needs protoc and protoc-gen-go).
proto:
	$(GO) generate ./export/onnxpb

clean:
	rm -rf $(BIN)
