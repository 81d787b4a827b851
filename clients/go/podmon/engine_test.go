package podmon

// Drives a real podmon as an engine would: New starts `podmon serve`, then
// a bundle container is created (exit path, log driver), started, exec'd
// into (ExecSync with bytes, streaming Exec), attached to through an attach
// socket, measured, watched, waited for and deleted. Run from cargo
// (tests/clients_go.rs), which gives the paths below in the environment.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func need(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s not set: run through cargo test --test clients_go", name)
	}
	return v
}

func writeBundle(t *testing.T, dir, rootfs string, args []string) {
	writeBundleWith(t, dir, rootfs, args, nil)
}

func writeBundleWith(t *testing.T, dir, rootfs string, args []string, resources map[string]interface{}) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	config := map[string]interface{}{
		"ociVersion": "1.0.2",
		"process": map[string]interface{}{
			"args": args, "cwd": "/", "user": map[string]int{"uid": 0, "gid": 0},
			"env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		"root":     map[string]interface{}{"path": rootfs, "readonly": true},
		"hostname": "goclient",
		"mounts": []map[string]interface{}{
			{"destination": "/proc", "type": "proc", "source": "proc"},
		},
		"linux": map[string]interface{}{
			"namespaces": []map[string]string{{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "pid"}},
		},
	}
	if resources != nil {
		config["linux"].(map[string]interface{})["resources"] = resources
	}
	b, _ := json.Marshal(config)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newClient(t *testing.T, run string) *PodmonClient {
	var env []string
	if r := os.Getenv("PODMON_REACTOR"); r != "" {
		env = append(env, "PODMON_REACTOR="+r)
	}
	log, err := os.OpenFile(filepath.Join(run, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(&Config{
		ServerPath:   need(t, "PODMON_BIN"),
		Pod:          "goengine",
		Runtime:      need(t, "PODMON_RUNTIME"),
		ServerRunDir: run,
		LogLevel:     "info",
		Env:          env,
		Stdout:       log,
		Stderr:       log,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// readAttach reads attach messages until want has arrived on both pipes.
func readAttach(t *testing.T, conn net.Conn, wantOut, wantErr string) {
	var out, errb bytes.Buffer
	buf := make([]byte, attachChunk)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for !strings.Contains(out.String(), wantOut) || !strings.Contains(errb.String(), wantErr) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("attach socket: %v (stdout %q, stderr %q)", err, out.String(), errb.String())
		}
		switch buf[0] {
		case AttachPipeStdout:
			out.Write(buf[1:n])
		case AttachPipeStderr:
			errb.Write(buf[1:n])
		default:
			t.Fatalf("attach message of type %d", buf[0])
		}
	}
}

func TestEngineLifecycle(t *testing.T) {
	run := need(t, "PODMON_RUN_DIR")
	rootfs := need(t, "PODMON_ROOTFS")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := newClient(t, run)
	defer c.ShutdownPod(time.Second)

	v, err := c.Version(ctx, &VersionConfig{})
	if err != nil || v.ProcessID == 0 || v.ProcessID != c.PID() || v.Version == "" {
		t.Fatalf("Version: %+v %v", v, err)
	}
	// An engine that restarts finds the same monitor.
	again := newClient(t, run)
	if again.PID() != c.PID() {
		t.Fatalf("second New started another monitor: %d, not %d", again.PID(), c.PID())
	}
	if _, err := New(&Config{Pod: "other", ServerRunDir: run}); err == nil || !strings.Contains(err.Error(), `"goengine"`) {
		t.Fatalf("New for another pod on the same directory: %v", err)
	}

	bundle := filepath.Join(run, "bundles", "c1")
	writeBundle(t, bundle, rootfs, []string{"sh", "-c", `read line; echo "got $line"; echo oops >&2; exit 3`})
	exitPath := filepath.Join(run, "c1.exit")
	logLink := filepath.Join(run, "c1.log")
	cr, err := c.CreateContainer(ctx, &CreateContainerConfig{
		ID: "c1", BundlePath: bundle, Stdin: true, ExitPaths: []string{exitPath},
		LogDrivers: []ContainerLogDriver{{Type: LogDriverTypeContainerRuntimeInterface, Path: logLink}},
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if cr.PID == 0 || cr.Container.Status != ContainerStatusCreated {
		t.Fatalf("created: %+v", cr.Container)
	}

	checkCreateErrors(t, ctx, c, run, bundle)

	events, err := c.WatchEventsMore(ctx, WatchEventsIn{Id: strPtr("c1")})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	first, err := events.Next(ctx)
	if err != nil || len(first.Containers) != 1 || first.Containers[0].Id != "c1" {
		t.Fatalf("first WatchEvents reply: %+v %v", first, err)
	}

	if _, err := c.StartContainer(ctx, StartContainerIn{Id: "c1"}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}

	checkExecs(t, ctx, c)

	st, err := c.Stats(ctx, StatsIn{Id: strPtr("c1")})
	if err != nil || st.Stats == nil || st.Stats.Id != "c1" || st.Monitor.Pid != int64(c.PID()) {
		t.Fatalf("Stats: %+v %v", st, err)
	}
	if st.Stats.Pids.Current == nil || *st.Stats.Pids.Current < 1 {
		t.Fatalf("Stats: no pids: %+v", st.Stats.Pids)
	}

	// While it runs (the monitor's ReopenLog of a stopped container does
	// not answer yet).
	if err := c.ReopenLogContainer(ctx, &ReopenLogContainerConfig{ID: "c1"}); err != nil {
		t.Fatalf("ReopenLogContainer: %v", err)
	}

	checkAttach(t, ctx, c, filepath.Join(run, "c1.attach"))

	w, err := c.WaitContainer(ctx, WaitContainerIn{Id: "c1"})
	if err != nil || w.ExitCode == nil || *w.ExitCode != 3 || w.Reason != "Error" {
		t.Fatalf("WaitContainer: %+v %v", w, err)
	}
	if !waitFor(func() bool { b, _ := os.ReadFile(exitPath); return string(b) == "3" }) {
		t.Fatalf("exit path %s never said 3", exitPath)
	}
	logText, err := os.ReadFile(logLink)
	if err != nil || !strings.Contains(string(logText), " stdout F got hello\n") {
		t.Fatalf("log through %s: %q %v", logLink, logText, err)
	}
	err = c.SetWindowSizeContainer(ctx, &SetWindowSizeContainerConfig{ID: "c1", Size: &TerminalSize{80, 24}})
	var state *InvalidState
	var invalid *InvalidValue
	if !errors.As(err, &state) && !errors.As(err, &invalid) {
		t.Fatalf("resize of a stopped non-terminal container: %#v", err)
	}

	checkListDeleteEvents(t, ctx, c, events)
	if err := c.ShutdownPod(time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !waitFor(func() bool { _, err := c.GetPod(ctx, GetPodIn{}); return err != nil }) {
		t.Fatal("the monitor still answers after Shutdown")
	}
}

// A bad log path leaves nothing behind, and errors are typed with their
// parameters.
func checkCreateErrors(t *testing.T, ctx context.Context, c *PodmonClient, run, bundle string) {
	_, err := c.CreateContainer(ctx, &CreateContainerConfig{ID: "c0", BundlePath: bundle,
		LogDrivers: []ContainerLogDriver{{Path: filepath.Join(run, "no-such-dir", "c0.log")}}})
	if err == nil || !strings.Contains(err.Error(), "log path") {
		t.Fatalf("create with a bad log path: %v", err)
	}
	_, err = c.GetContainer(ctx, GetContainerIn{Id: "c0"})
	if !errors.As(err, new(*NoSuchContainer)) {
		t.Fatalf("c0 was left behind: %v", err)
	}

	// Errors are typed, with their parameters.
	_, err = c.CreateContainer(ctx, &CreateContainerConfig{ID: "c1", BundlePath: bundle})
	var exists *ContainerExists
	if !errors.As(err, &exists) || exists.Id != "c1" {
		t.Fatalf("second create: %v", err)
	}
	_, err = c.GetContainer(ctx, GetContainerIn{Id: "nope"})
	var missing *NoSuchContainer
	if !errors.As(err, &missing) || missing.Id != "nope" {
		t.Fatalf("GetContainer(nope): %#v", err)
	}
}

// Attach through a socket the engine names, as CRI-O does.
func checkAttach(t *testing.T, ctx context.Context, c *PodmonClient, sock string) {
	att, err := c.AttachContainer(ctx, &AttachConfig{ID: "c1", SocketPath: sock, Stdin: true})
	if err != nil {
		t.Fatalf("AttachContainer: %v", err)
	}
	defer att.Close()
	engine, err := net.Dial("unixpacket", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	// No race with the attach: the bridge reads the engine's stdin only
	// once attached, and the container writes only after reading a line.
	if _, err := engine.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	readAttach(t, engine, "got hello\n", "oops\n")
}

// ListContainers with more, then DeleteContainer, and the events of the
// whole life of c1.
func checkListDeleteEvents(t *testing.T, ctx context.Context, c *PodmonClient, events *WatchEventsStream) {
	list, err := c.ListContainersMore(ctx, ListContainersIn{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		r, err := list.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Container != nil {
			ids = append(ids, r.Container.Id)
		}
	}
	if len(ids) != 1 || ids[0] != "c1" {
		t.Fatalf("ListContainers: %v", ids)
	}

	if _, err := c.DeleteContainer(ctx, DeleteContainerIn{Id: "c1"}); err != nil {
		t.Fatalf("DeleteContainer: %v", err)
	}
	var kinds []EventKind
	for len(kinds) == 0 || kinds[len(kinds)-1] != EventKindDeleted {
		e, err := events.Next(ctx)
		if err != nil || e.Event == nil {
			t.Fatalf("WatchEvents after %v: %+v %v", kinds, e, err)
		}
		kinds = append(kinds, e.Event.Kind)
		if e.Event.Kind == EventKindExited && (e.Event.ExitCode == nil || *e.Event.ExitCode != 3) {
			t.Fatalf("exited event: %+v", e.Event)
		}
	}
	for _, want := range []EventKind{EventKindStarted, EventKindExecStarted, EventKindExecExited, EventKindExited, EventKindDeleted} {
		if !hasKind(kinds, want) {
			t.Fatalf("events %v lack %s", kinds, want)
		}
	}
}

// ExecSync with bytes, and a streaming exec with stdin over the upgraded
// connection.
func checkExecs(t *testing.T, ctx context.Context, c *PodmonClient) {
	// ExecSync gives the exact bytes.
	es, err := c.ExecSyncContainer(ctx, &ExecSyncConfig{ID: "c1", Timeout: 30,
		Command: []string{"sh", "-c", `printf 'a\000b\377'; printf '\376' >&2; exit 5`}})
	if err != nil {
		t.Fatalf("ExecSyncContainer: %v", err)
	}
	if es.ExitCode != 5 || !bytes.Equal(es.Stdout, []byte("a\x00b\xff")) || !bytes.Equal(es.Stderr, []byte{0xfe}) {
		t.Fatalf("ExecSync: %+v", es)
	}

	// A streaming exec over the upgraded connection.
	interactive := true
	eo, up, err := c.ExecUpgrade(ctx, ExecIn{Id: "c1", Command: []string{"sh", "-c", "cat; echo done >&2; exit 7"}, Interactive: &interactive})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if eo.ExecId == nil || eo.Pid == nil {
		t.Fatalf("Exec reply: %+v", eo)
	}
	if err := up.WriteStdin([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if err := up.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	code, err := up.Copy(&so, &se)
	up.Close()
	if err != nil || code != 7 || so.String() != "ping\n" || se.String() != "done\n" {
		t.Fatalf("Exec: code %d err %v stdout %q stderr %q", code, err, so.String(), se.String())
	}
}

// An engine that dies between create and exit: the next New takes the
// exit paths over and writes them.
func TestEngineRestartKeepsExitPaths(t *testing.T) {
	run := filepath.Join(need(t, "PODMON_RUN_DIR"), "restart")
	rootfs := need(t, "PODMON_ROOTFS")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := newClient(t, run)
	bundle := filepath.Join(run, "bundles", "r1")
	writeBundle(t, bundle, rootfs, []string{"sh", "-c", "exit 4"})
	exitPath := filepath.Join(run, "r1.exit")
	_, err := first.CreateContainer(ctx, &CreateContainerConfig{ID: "r1", BundlePath: bundle, ExitPaths: []string{exitPath}})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	first.Close() // the engine goes away; the monitor and r1 stay
	c := newClient(t, run)
	defer c.ShutdownPod(time.Second)
	if c.PID() != first.PID() {
		t.Fatalf("the monitor changed: %d, not %d", c.PID(), first.PID())
	}
	if _, err := c.StartContainer(ctx, StartContainerIn{Id: "r1"}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if !waitFor(func() bool { b, _ := os.ReadFile(exitPath); return string(b) == "4" }) {
		t.Fatalf("exit path %s never said 4", exitPath)
	}
	record := filepath.Join(run, "exit-paths", "r1.json")
	if !waitFor(func() bool { _, err := os.Stat(record); return os.IsNotExist(err) }) {
		t.Fatalf("%s is still there once written", record)
	}
}

// The OOM exit path appears, and the exit path says 137, when the kernel's
// OOM killer ends a container over its bundle's memory limit.
func TestEngineOOMExitPaths(t *testing.T) {
	run := filepath.Join(need(t, "PODMON_RUN_DIR"), "oom")
	rootfs := need(t, "PODMON_ROOTFS")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := newClient(t, run)
	defer c.ShutdownPod(time.Second)
	bundle := filepath.Join(run, "bundles", "hog")
	// The shell reads 200 MB into a variable: far over 32 MiB.
	writeBundleWith(t, bundle, rootfs,
		[]string{"sh", "-c", `x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}`},
		map[string]interface{}{"memory": map[string]int64{"limit": 32 << 20}})
	exitPath, oomPath := filepath.Join(run, "hog.exit"), filepath.Join(run, "hog.oom")
	_, err := c.CreateContainer(ctx, &CreateContainerConfig{
		ID: "hog", BundlePath: bundle, ExitPaths: []string{exitPath}, OOMExitPaths: []string{oomPath},
		LogDrivers: []ContainerLogDriver{{Type: LogDriverTypeContainerRuntimeInterface}},
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := c.StartContainer(ctx, StartContainerIn{Id: "hog"}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	w, err := c.WaitContainer(ctx, WaitContainerIn{Id: "hog"})
	if err != nil || !w.OomKilled || w.Reason != "OOMKilled" {
		t.Fatalf("WaitContainer: %+v %v", w, err)
	}
	if !waitFor(func() bool { b, _ := os.ReadFile(exitPath); return string(b) == "137" }) {
		t.Fatalf("exit path %s never said 137", exitPath)
	}
	if _, err := os.Stat(oomPath); err != nil {
		t.Fatalf("OOM exit path: %v", err)
	}
	if _, err := c.DeleteContainer(ctx, DeleteContainerIn{Id: "hog"}); err != nil {
		t.Fatalf("DeleteContainer: %v", err)
	}
}

func strPtr(s string) *string { return &s }

func hasKind(ks []EventKind, k EventKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func waitFor(f func() bool) bool {
	for i := 0; i < 100; i++ {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
