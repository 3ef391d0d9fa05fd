// Package adbfake is a pretend Android device for tests: it speaks the
// device side of the ADB transport protocol over TCP, so the real adb client
// and server can `adb connect` to it and drive it like a phone reached over
// Wi-Fi.
//
// # What it implements
//
// The transport: 24-byte message headers (command, arg0, arg1, data length,
// data checksum, magic = command ^ 0xffffffff) carrying CNXN, OPEN, OKAY,
// WRTE and CLSE, without authentication or TLS. The CNXN banner announces
// the model and properties given in [Device] and the features it lists
// (shell_v2, cmd and fixed_push_mkdir by default; leave shell_v2 out to
// exercise clients on old devices).
//
// The services:
//   - "shell:CMD" (legacy: stdout and stderr mixed, no exit status), and
//     "shell,v2,...:CMD" (shell protocol: stdin, stdout, stderr, exit status);
//     commands run with /bin/sh in [Device.Root] as the working directory,
//     with HOME at Root, TMPDIR at Root/data/local/tmp (where a phone has
//     it) and a getprop command that answers from [Device.Props] and
//     reports [Device.ABI];
//   - "sync:" with STAT, LIST, SEND, RECV and QUIT (version 1), serving
//     only files under Root, for adb push and pull.
//
// Commands run on the host for real: the fake stands for a device whose
// file system is the host's, which keeps it small. It is for tests on
// loopback only.
package adbfake
