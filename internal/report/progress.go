package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// ProgressWanted reports whether a progress bar belongs on f: f is a
// terminal and none of CI, GITHUB_ACTIONS, GITLAB_CI, JENKINS_URL and
// BUILD_NUMBER is set.
func ProgressWanted(f *os.File) bool {
	if f == nil {
		return false
	}
	fd := f.Fd()
	return progressWanted(isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd), os.LookupEnv)
}

func progressWanted(tty bool, lookup func(string) (string, bool)) bool {
	if !tty {
		return false
	}
	// Set by the CI systems attest runs in; any of them turns the bar off.
	for _, v := range []string{"CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_NUMBER"} {
		if _, ok := lookup(v); ok {
			return false
		}
	}
	return true
}

// progressInterval is the least time between two redraws.
const progressInterval = 100 * time.Millisecond

const progressWidth = 30

// Progress draws "[=====>     ]  120/1000 files" on one terminal line,
// redrawn at most every 100ms. Add is safe for concurrent use. A disabled
// or nil Progress does nothing.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	total   int
	done    int
	enabled bool
	drawn   bool
	last    time.Time
	now     func() time.Time
}

// NewProgress returns a progress bar over total units (files) written to w,
// which draws only when enabled (see ProgressWanted).
func NewProgress(w io.Writer, total int, enabled bool) *Progress {
	return &Progress{w: w, total: total, enabled: enabled && w != nil, now: time.Now}
}

// Add records n more units done and redraws if the last redraw is old enough.
func (p *Progress) Add(n int) {
	if p == nil || !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	now := p.now()
	if p.drawn && now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	p.draw()
}

// Done erases the bar so the report starts on a clean line.
func (p *Progress) Done() {
	if p == nil || !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		_, _ = io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
	}
	p.enabled = false
}

// draw writes the bar; p.mu is held.
func (p *Progress) draw() {
	done, total := p.done, p.total
	if total < done {
		total = done
	}
	filled := progressWidth
	if total > 0 {
		filled = done * progressWidth / total
	}
	bar := strings.Repeat("=", filled)
	if filled < progressWidth {
		bar += ">" + strings.Repeat(" ", progressWidth-filled-1)
	}
	_, _ = fmt.Fprintf(p.w, "\r[%s] %*d/%d files", bar, len(fmt.Sprint(total)), done, total)
	p.drawn = true
}
