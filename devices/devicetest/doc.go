// Package devicetest provides real peers for tests of code that drives
// devices: an OpenSSH server on a loopback port ([StartSSHD]), a fake
// Android device behind the real adb client and server ([StartADB]), and
// [Suite], the conformance tests every [devices.Target] transport passes.
//
// Other packages use it for end-to-end tests through SSH and ADB, e.g.
//
//	sshd := devicetest.StartSSHD(t)
//	tg, err := devices.Open(ctx, sshd.URL, sshd.Options)
//
// Peers that are not installed skip the test with a message saying what to
// install; with EDGEFIT_TEST_STRICT=1 (CI) they fail it instead (see
// internal/testfix).
package devicetest
