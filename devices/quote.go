package devices

import "strings"

// Quote returns s as one word for a POSIX shell: wrapped in single quotes,
// each single quote inside written as '\” (close, escaped quote, reopen).
// Nothing inside single quotes is special to the shell, so the result is
// always read back as exactly s.
func Quote(s string) string {
	if s != "" && isSafeWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes each argument and joins them with spaces, giving a
// command line that a POSIX shell splits back into exactly argv.
func QuoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// isSafeWord reports whether s needs no quoting: only characters that no
// POSIX shell treats specially anywhere in a word. Leaving such words bare
// keeps command lines in logs readable.
func isSafeWord(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == '+' || c == ':' || c == '@' || c == '%':
		default:
			return false
		}
	}
	return true
}

// shellLine builds the command line a remote shell runs for argv: an
// optional cd, optional environment assignments, then the quoted words.
// Environment names were validated by validateRun.
func shellLine(argv []string, opts RunOptions) string {
	var b strings.Builder
	if opts.Dir != "" {
		b.WriteString("cd ")
		b.WriteString(Quote(opts.Dir))
		b.WriteString(" && ")
	}
	for _, kv := range opts.Env {
		name, val, _ := strings.Cut(kv, "=")
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(Quote(val))
		b.WriteByte(' ')
	}
	b.WriteString(QuoteArgs(argv))
	return b.String()
}
