package xds

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// maxProbeBody bounds what the probe reads of the answer.
const maxProbeBody = 64 << 10

// DefaultTimeout is how long the transport waits for the headers of an
// answer once the request is sent: a black-holed network is then
// app.ErrOffline, not a hang (the same bound as the FHIR client's).
const DefaultTimeout = 30 * time.Second

// Probe checks cheaply that the service answers: a GET of the registry
// endpoint (no VIHF, no patient, nothing signed), within ctx's deadline
// (the connectivity tracker gives a short one). A SOAP endpoint answers a
// GET with 405 or its WSDL: any answer below 500 means the service is
// reachable; a 5xx, a timeout or a network error is app.ErrOffline. It
// implements app.Prober. (COMPATIBILITY.md, "Reachability probe".)
func (c *Client) Probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+ServiceRegistry, nil)
	if err != nil {
		return fmt.Errorf("xds: probe: %v: %w", err, app.ErrNotConfigured)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("xds: probe: the service does not answer: %w", app.ErrOffline)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("xds: probe: service unavailable (HTTP %d): %w", resp.StatusCode, app.ErrOffline)
	}
	return nil
}
