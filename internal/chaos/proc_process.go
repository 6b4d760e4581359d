package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is one child process started by the harness. Signals go only to
// its own pid, and only while it has not been reaped. It is safe for
// concurrent use.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	exited bool
	paused bool
	err    error
}

// StartProcess starts exe with args and extra environment, its output
// appended to logPath, in its own process group and killed if the harness
// dies (Pdeathsig).
func StartProcess(exe string, args, env []string, logPath string) (*Process, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer out.Close() // the child holds its own copy
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrSetup, exe, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exited, p.err = true, err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the child's pid.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited, and its wait error.
func (p *Process) Exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited, p.err
}

// signal delivers sig unless the child was already reaped; it reports
// whether it was delivered.
func (p *Process) signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return false
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return true
}

// Kill sends SIGKILL and waits until the child is reaped. It reports
// whether this call delivered the signal (false if the child had already
// exited).
func (p *Process) Kill() bool {
	ok := p.signal(syscall.SIGKILL)
	<-p.done
	return ok
}

// Pause sends SIGSTOP; it reports whether the signal was delivered.
func (p *Process) Pause() bool { return p.signal(syscall.SIGSTOP) }

// Resume sends SIGCONT; it reports whether the signal was delivered.
func (p *Process) Resume() bool { return p.signal(syscall.SIGCONT) }

// Paused reports whether the child was stopped and not resumed.
func (p *Process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// Stop resumes the child, asks it to exit with SIGTERM, and kills it if
// it has not exited within grace. It reports whether the exit was clean
// (no kill needed).
func (p *Process) Stop(grace time.Duration) bool {
	p.signal(syscall.SIGCONT)
	if !p.signal(syscall.SIGTERM) {
		<-p.done
		return false
	}
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		p.Kill()
		return false
	}
}
