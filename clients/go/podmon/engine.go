package podmon

// The shape of conmon-rs's Go client (github.com/containers/conmon-rs,
// pkg/client), so an engine built on it switches with few changes: New
// starts the pod's monitor or connects to the one already running, and the
// *Container calls take config structs named as there. The README maps
// each conmon-rs call to podmon's.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Config says how to run (or find) the monitor of one pod, as conmon-rs's
// ConmonServerConfig does.
type Config struct {
	// ServerPath is the podmon binary; default "podmon" from PATH.
	ServerPath string
	// Pod is the pod's name (podmon serve --pod); required.
	Pod string
	// Runtime is the OCI runtime binary (runc, crun); default podmon's choice.
	Runtime string
	// ServerRunDir holds the monitor's socket (podmon.sock), its state
	// directory (state/), the default log directory (logs/) and its exit
	// and OOM directories (exits/, oom/); required.
	ServerRunDir string
	// LogDir is where the CRI log files go; default ServerRunDir/logs.
	LogDir string
	// Namespaces the pod's containers share (podmon serve --namespaces),
	// for example []string{"net", "ipc", "uts"}.
	Namespaces []string
	// LogLevel for the monitor's own log (RUST_LOG): error, warn, info, debug.
	LogLevel string
	// Env is added to the monitor's environment (KEY=VALUE).
	Env []string
	// ExtraArgs are more podmon serve arguments.
	ExtraArgs []string
	// Stdout and Stderr get the monitor's own output; default discarded.
	Stdout, Stderr io.Writer
	// StartTimeout bounds waiting for a new monitor to answer; default 10 s.
	StartTimeout time.Duration
}

// PodmonClient is one pod's monitor, as conmon-rs's ConmonClient: the typed
// calls of Client plus the conmon-rs-shaped ones below. Where names clash
// (CreateContainer, Shutdown) the conmon-rs form is the one called; the
// generated call stays reachable as c.Client.CreateContainer.
type PodmonClient struct {
	*Client
	cfg       Config
	serverPID uint32
	// stop ends the exit path goroutines (Close).
	stop   context.Context
	cancel context.CancelFunc
}

// SocketPath is where the monitor of cfg listens.
func (cfg *Config) SocketPath() string { return filepath.Join(cfg.ServerRunDir, "podmon.sock") }

// New connects to the pod's monitor when one answers on its socket (an
// engine that restarted finds its pods again) or starts `podmon serve` for
// the pod in its own session, so it outlives the engine.
func New(cfg *Config) (*PodmonClient, error) {
	if cfg.Pod == "" || cfg.ServerRunDir == "" {
		return nil, errors.New("podmon: Config needs Pod and ServerRunDir")
	}
	c := &PodmonClient{Client: Dial(cfg.SocketPath()), cfg: *cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if pod, err := c.GetPod(ctx, GetPodIn{}); err == nil {
		if pod.Name != cfg.Pod {
			return nil, fmt.Errorf("podmon: %s serves pod %q, not %q", cfg.SocketPath(), pod.Name, cfg.Pod)
		}
		c.serverPID = uint32(pod.Monitor.Pid)
	} else if err := c.startServer(); err != nil {
		return nil, err
	}
	c.stop, c.cancel = context.WithCancel(context.Background())
	c.rearmExitPaths()
	return c, nil
}

// Close stops this client's exit path goroutines (a later New takes them
// over) and closes its connections.
func (c *PodmonClient) Close() error {
	c.cancel()
	return c.Client.Close()
}

func (c *PodmonClient) serveArgs() []string {
	cfg := &c.cfg
	logDir := cfg.LogDir
	if logDir == "" {
		logDir = filepath.Join(cfg.ServerRunDir, "logs")
	}
	args := []string{"serve", "--pod", cfg.Pod, "--socket", cfg.SocketPath(),
		"--state-dir", filepath.Join(cfg.ServerRunDir, "state"),
		"--log-dir", logDir,
		"--exit-dir", filepath.Join(cfg.ServerRunDir, "exits"),
		"--oom-dir", filepath.Join(cfg.ServerRunDir, "oom")}
	if cfg.Runtime != "" {
		args = append(args, "--runtime", cfg.Runtime)
	}
	if len(cfg.Namespaces) > 0 {
		ns := cfg.Namespaces[0]
		for _, n := range cfg.Namespaces[1:] {
			ns += "," + n
		}
		args = append(args, "--namespaces", ns)
	}
	return append(args, cfg.ExtraArgs...)
}

func (c *PodmonClient) startServer() error {
	cfg := &c.cfg
	if err := os.MkdirAll(cfg.ServerRunDir, 0o700); err != nil {
		return err
	}
	bin := cfg.ServerPath
	if bin == "" {
		bin = "podmon"
	}
	cmd := exec.Command(bin, c.serveArgs()...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	if cfg.LogLevel != "" {
		cmd.Env = append(cmd.Env, "RUST_LOG="+cfg.LogLevel)
	}
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	limit := cfg.StartTimeout
	if limit == 0 {
		limit = 10 * time.Second
	}
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pod, err := c.GetPod(ctx, GetPodIn{})
		cancel()
		if err == nil {
			c.serverPID = uint32(pod.Monitor.Pid)
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("podmon serve exited before it answered: %v", werr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return fmt.Errorf("podmon serve did not answer within %s: %v", limit, err)
		}
	}
}

// PID is the monitor's process id.
func (c *PodmonClient) PID() uint32 { return c.serverPID }

// VersionConfig is the argument of Version (nothing yet).
type VersionConfig struct{}

// VersionResponse is what Version returns.
type VersionResponse struct {
	ProcessID uint32
	Version   string
	Runtime   string
}

// Version returns the monitor's version and pid.
func (c *PodmonClient) Version(ctx context.Context, _ *VersionConfig) (*VersionResponse, error) {
	pod, err := c.GetPod(ctx, GetPodIn{})
	if err != nil {
		return nil, err
	}
	return &VersionResponse{ProcessID: uint32(pod.Monitor.Pid), Version: pod.Version, Runtime: pod.Runtime}, nil
}

// LogDriverType names a log driver, as in conmon-rs.
type LogDriverType int

const (
	// LogDriverTypeContainerRuntimeInterface is the CRI (kubelet) log format.
	LogDriverTypeContainerRuntimeInterface LogDriverType = iota
)

// ContainerLogDriver is one log driver of a container.
type ContainerLogDriver struct {
	// Type of the driver.
	Type LogDriverType
	// Path where the engine expects the log file: a symbolic link to
	// podmon's file is made there (podmon writes LOGDIR/ID.log).
	Path string
	// MaxSize rotates the file at this many bytes (0: never).
	MaxSize uint64
}

// CreateContainerConfig is the argument of CreateContainer.
type CreateContainerConfig struct {
	ID         string
	BundlePath string
	Terminal   bool
	Stdin      bool
	StdinOnce  bool
	// ExitPaths get the exit code written, as conmon writes exit files.
	ExitPaths []string
	// OOMExitPaths are created when the OOM killer ended the container.
	OOMExitPaths []string
	// LogDrivers: none means no log ("none"); at most one CRI driver.
	LogDrivers []ContainerLogDriver
	// JoinPod makes the container join the pod's shared namespaces.
	JoinPod bool
}

// CreateContainerResponse is what CreateContainer returns.
type CreateContainerResponse struct {
	PID       uint32
	Container *ContainerInfo
}

// CreateContainer creates the container from its bundle (not started). Exit
// and OOM exit paths are written by a goroutine of this client that waits
// for the container (podmon's own exit and OOM directories keep the same
// record across engine restarts).
func (c *PodmonClient) CreateContainer(ctx context.Context, cfg *CreateContainerConfig) (*CreateContainerResponse, error) {
	in := CreateContainerIn{Id: cfg.ID, Bundle: &cfg.BundlePath}
	if cfg.Stdin {
		in.Stdin = &cfg.Stdin
	}
	if cfg.StdinOnce {
		in.StdinOnce = &cfg.StdinOnce
	}
	if cfg.JoinPod {
		in.JoinPod = &cfg.JoinPod
	}
	var links []string
	driver := LogDriverNone
	for _, d := range cfg.LogDrivers {
		if d.Type != LogDriverTypeContainerRuntimeInterface {
			return nil, fmt.Errorf("podmon: log driver type %d is not supported", d.Type)
		}
		driver = LogDriverCri
		if d.MaxSize > 0 {
			n := int64(d.MaxSize)
			in.LogMaxSize = &n
		}
		if d.Path != "" {
			links = append(links, d.Path)
		}
	}
	in.LogDriver = &driver
	out, err := c.Client.CreateContainer(ctx, in)
	if err != nil {
		return nil, err
	}
	if out.Container.LogPath != nil {
		for _, l := range links {
			os.Remove(l)
			if err := os.Symlink(*out.Container.LogPath, l); err != nil {
				// Not half made: the engine retries the whole create.
				force := true
				c.DeleteContainer(ctx, DeleteContainerIn{Id: cfg.ID, Force: &force})
				return nil, fmt.Errorf("podmon: log path: %w", err)
			}
		}
	}
	if len(cfg.ExitPaths)+len(cfg.OOMExitPaths) > 0 {
		if err := c.armExitPaths(cfg.ID, exitRecord{Exit: cfg.ExitPaths, OOM: cfg.OOMExitPaths}); err != nil {
			return nil, err
		}
	}
	resp := &CreateContainerResponse{Container: &out.Container}
	if out.Container.Pid != nil {
		resp.PID = uint32(*out.Container.Pid)
	}
	return resp, nil
}

// ExecSyncConfig is the argument of ExecSyncContainer.
type ExecSyncConfig struct {
	ID      string
	Command []string
	// Timeout in seconds; 0 means none.
	Timeout uint64
	// Terminal is refused: podmon's ExecSync has no pty (use Exec).
	Terminal bool
}

// ExecContainerResult is what ExecSyncContainer returns: the exact bytes.
type ExecContainerResult struct {
	ExitCode int32
	Stdout   []byte
	Stderr   []byte
	TimedOut bool
}

// ExecSyncContainer runs a command in the container to its end and returns
// its exit code and output, byte for byte (ExecSync with base64).
func (c *PodmonClient) ExecSyncContainer(ctx context.Context, cfg *ExecSyncConfig) (*ExecContainerResult, error) {
	if cfg.Terminal {
		return nil, errors.New("podmon: ExecSync with a terminal is not supported")
	}
	enc := "base64"
	in := ExecSyncIn{Id: cfg.ID, Command: cfg.Command, Encoding: &enc}
	if cfg.Timeout > 0 {
		t := float64(cfg.Timeout)
		in.TimeoutSeconds = &t
	}
	out, err := c.ExecSync(ctx, in)
	if err != nil {
		return nil, err
	}
	res := &ExecContainerResult{ExitCode: int32(out.ExitCode), TimedOut: out.TimedOut}
	if res.Stdout, err = base64.StdEncoding.DecodeString(out.Stdout); err != nil {
		return nil, fmt.Errorf("podmon: stdout: %w", err)
	}
	if res.Stderr, err = base64.StdEncoding.DecodeString(out.Stderr); err != nil {
		return nil, fmt.Errorf("podmon: stderr: %w", err)
	}
	return res, nil
}

// ReopenLogContainerConfig is the argument of ReopenLogContainer.
type ReopenLogContainerConfig struct{ ID string }

// ReopenLogContainer reopens the container's log file (after kubelet
// rotated it).
func (c *PodmonClient) ReopenLogContainer(ctx context.Context, cfg *ReopenLogContainerConfig) error {
	_, err := c.ReopenLog(ctx, ReopenLogIn{Id: cfg.ID})
	return err
}

// TerminalSize is a window size in characters.
type TerminalSize struct{ Width, Height uint16 }

// SetWindowSizeContainerConfig is the argument of SetWindowSizeContainer.
type SetWindowSizeContainerConfig struct {
	ID   string
	Size *TerminalSize
}

// SetWindowSizeContainer resizes a terminal container's pty.
func (c *PodmonClient) SetWindowSizeContainer(ctx context.Context, cfg *SetWindowSizeContainerConfig) error {
	if cfg.Size == nil {
		return errors.New("podmon: SetWindowSizeContainer needs Size")
	}
	_, err := c.Resize(ctx, ResizeIn{Id: cfg.ID, Width: int64(cfg.Size.Width), Height: int64(cfg.Size.Height)})
	return err
}

// Shutdown ends the monitor and leaves the containers running (a new
// monitor on the same ServerRunDir adopts them).
func (c *PodmonClient) Shutdown() error {
	_, err := c.Client.Shutdown(context.Background(), ShutdownIn{})
	c.Close()
	return err
}

// ShutdownPod stops (SIGTERM, SIGKILL after grace) and deletes every
// container, then ends the monitor.
func (c *PodmonClient) ShutdownPod(grace time.Duration) error {
	kill, secs := true, int64(grace/time.Second)
	_, err := c.Client.Shutdown(context.Background(), ShutdownIn{KillContainers: &kill, Timeout: &secs})
	c.Close()
	return err
}
