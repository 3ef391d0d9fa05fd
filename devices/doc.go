// Package devices runs commands on, and copies files to and from, the machine
// a model is measured on: this host ("local"), a Linux board over SSH
// ("ssh://user@host:port") or an Android phone over ADB ("adb://SERIAL").
//
// # Targets
//
// [Open] turns a target string into a [Target]; the scheme picks the
// transport through a small registry ([Register]). Every transport offers the
// same operations: [Target.Run] a command given as an argument vector,
// [Target.Push] and [Target.Pull] a file, [Target.WorkDir] a scratch
// directory that is removed afterwards, and [Target.Info] the OS and
// architecture. A command that ran but exited non-zero is reported as a
// [*CommandError]; any other error means the command may not have run at all
// (connection lost, binary missing, context cancelled).
//
// # Quoting
//
// Remote transports hand a command line to a POSIX shell on the device. Each
// argument is single-quoted by [Quote] first, so file names holding spaces,
// quotes, "$(...)", backticks or ";" reach the program as data and are never
// run. File copies never go through a shell at all (SFTP, the ADB sync
// protocol, or local file I/O).
//
// # Transports
//
//   - local: os/exec on this machine; no shell is involved.
//   - ssh: golang.org/x/crypto/ssh and SFTP. Keys come from the identity in
//     [Options], ~/.ssh/config (HostName, User, Port, IdentityFile),
//     ~/.ssh/id_* and ssh-agent. Host keys are checked against known_hosts;
//     an unknown or changed key is refused with a [*HostKeyError] that names
//     the key's SHA256 fingerprint and the command that trusts it ([Trust]).
//     A dropped connection fails the call that was running and the next call
//     dials again.
//   - adb: the standard adb client ("adb -s SERIAL ..."); exit status from
//     shell_v2 where the device supports it, else from a marker line.
//
// # Fingerprints
//
// [Probe] gathers what a latency number depends on — kernel, CPU model,
// clusters and their frequencies and governors, temperatures, memory, the
// Android model and SoC, the Jetson power mode — in one shell round trip.
// Files that a container or a phone hides leave fields empty; they are not
// errors.
//
// Package devices imports no other edgefit package except its own
// subpackages and leaf helpers under internal/, and uses no cgo; deploying
// and running the measuring agent lives in profiler/agent.
package devices
