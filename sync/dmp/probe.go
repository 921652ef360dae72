package dmp

import (
	"context"
	"io"
	"net/http"

	"github.com/carnetdesk/carnet/app"
)

// maxProbeBody bounds what the probe reads of the capability statement.
const maxProbeBody = 256 << 10

// Probe checks cheaply that the service answers: GET metadata (the
// capability statement, no access assertion, no patient), within ctx's
// deadline (the connectivity tracker gives a short one). Any answer below
// 500 means the service is reachable; a 5xx, a timeout or a network error
// is ErrOffline. It implements app.Prober.
func (c *Client) Probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("metadata", nil), nil)
	if err != nil {
		return fail("probe", app.ErrInvalid, "cannot build the request")
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("User-Agent", c.softwareName+"/"+c.softwareVersion)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fail("probe", app.ErrOffline, "timed out")
		}
		return classifyTransport("probe", ctx, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode >= 500 {
		return fail("probe", app.ErrOffline, "service unavailable")
	}
	return nil
}
