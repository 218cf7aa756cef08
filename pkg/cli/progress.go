package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress writes user-facing progress to stderr: an updating spinner line on
// a terminal, plain lines otherwise (CI logs, pipes). stdout never carries
// progress. NO_COLOR disables colour.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	color   bool
	current string
	stop    chan struct{}
	done    chan struct{}
	now     func() time.Time
	started time.Time
}

// newProgress returns progress output to w. tty is whether w is a terminal.
func newProgress(w io.Writer, tty, color bool) *Progress {
	return &Progress{w: w, tty: tty, color: color, now: time.Now}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Start announces a step that takes time. On a terminal a spinner runs until
// the next Start, Done or Fail.
func (p *Progress) Start(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
	p.current = fmt.Sprintf(format, args...)
	p.started = p.now()
	if !p.tty {
		fmt.Fprintf(p.w, "%s ...\n", p.current)
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.spin(p.current, p.stop, p.done)
}

func (p *Progress) spin(msg string, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\033[K%s %s", spinnerFrames[i%len(spinnerFrames)], msg)
		p.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// finishLocked stops the spinner, if any. p.mu must be held; it is released
// while waiting for the spinner goroutine.
func (p *Progress) finishLocked() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.mu.Unlock()
	<-p.done
	p.mu.Lock()
	p.stop, p.done = nil, nil
	fmt.Fprint(p.w, "\r\033[K")
}

// Done ends the current step successfully.
func (p *Progress) Done(format string, args ...any) {
	p.end("✓", "32", format, args...)
}

// Fail ends the current step with a failure.
func (p *Progress) Fail(format string, args ...any) {
	p.end("✗", "31", format, args...)
}

// Warn prints a warning line.
func (p *Progress) Warn(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s\n", p.paint("33", "warning:"), fmt.Sprintf(format, args...))
}

func (p *Progress) end(mark, colorCode, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
	msg := fmt.Sprintf(format, args...)
	if msg == "" {
		msg = p.current
	}
	if p.tty {
		fmt.Fprintf(p.w, "%s %s\n", p.paint(colorCode, mark), msg)
	} else {
		fmt.Fprintf(p.w, "%s %s\n", mark, msg)
	}
	p.current = ""
}

func (p *Progress) paint(code, s string) string {
	if !p.color {
		return s
	}
	return "\033[" + code + "m" + s + "\033[0m"
}

// Line prints a progress line, keeping a running spinner below it.
func (p *Progress) Line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "  %s\n", fmt.Sprintf(format, args...))
}
