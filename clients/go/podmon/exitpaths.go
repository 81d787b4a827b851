package podmon

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// exitRecord is what a container's exit paths are, kept in
// ServerRunDir/exit-paths/ID.json until they are written, so a New after
// an engine restart writes them still.
type exitRecord struct {
	Exit []string `json:"exitPaths,omitempty"`
	OOM  []string `json:"oomExitPaths,omitempty"`
}

func (c *PodmonClient) exitPathsDir() string {
	return filepath.Join(c.cfg.ServerRunDir, "exit-paths")
}

// armExitPaths records the paths and starts writing them when id ends.
func (c *PodmonClient) armExitPaths(id string, rec exitRecord) error {
	dir := c.exitPathsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+id+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, id+".json")); err != nil {
		return err
	}
	go c.watchExit(id, rec)
	return nil
}

// rearmExitPaths takes over the exit paths an earlier client recorded.
func (c *PodmonClient) rearmExitPaths() {
	entries, _ := os.ReadDir(c.exitPathsDir())
	for _, e := range entries {
		id := strings.TrimSuffix(e.Name(), ".json")
		if id == e.Name() || strings.HasPrefix(id, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.exitPathsDir(), e.Name()))
		var rec exitRecord
		if err != nil || json.Unmarshal(b, &rec) != nil {
			continue
		}
		go c.watchExit(id, rec)
	}
}

// watchExit waits for the container and writes its exit paths (the exit
// code, as conmon's exit files) and, when the OOM killer ended it, creates
// its OOM exit paths; then forgets the record. It retries while the
// monitor restarts, and gives up when the container is gone or Close.
func (c *PodmonClient) watchExit(id string, rec exitRecord) {
	for {
		w, err := c.WaitContainer(c.stop, WaitContainerIn{Id: id})
		if c.stop.Err() != nil {
			return
		}
		if errors.As(err, new(*NoSuchContainer)) {
			os.Remove(filepath.Join(c.exitPathsDir(), id+".json"))
			return
		}
		if err != nil {
			select {
			case <-c.stop.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if w.OomKilled {
			for _, p := range rec.OOM {
				os.WriteFile(p, nil, 0o644)
			}
		}
		code := ""
		if w.ExitCode != nil {
			code = strconv.FormatInt(*w.ExitCode, 10)
		}
		for _, p := range rec.Exit {
			os.WriteFile(p, []byte(code), 0o644)
		}
		os.Remove(filepath.Join(c.exitPathsDir(), id+".json"))
		return
	}
}
