package wxinvoicetest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wxinvoice/wxinvoice"
	"github.com/wxinvoice/wxinvoice/internal/pushtest"
)

// Push is one event push, as listed by Server.Pushes.
type Push struct {
	URL string
	// Name is the event pushed: wxinvoice.EventUpdateInvoiceStatus,
	// EventUserAuthorizeInvoice, EventSubmitInvoiceTitle or
	// EventCloudInvoiceResult.
	Name string
	// Event is the update_invoice_status event; zero for the other events
	// (decode XML).
	Event wxinvoice.InvoiceStatusEvent
	// XML is the event document as pushed in plaintext mode (before any
	// encryption).
	XML       []byte
	Attempts  []PushAttempt
	Delivered bool // an attempt was answered 200 with an empty body or "success"
	Done      bool // delivered, or every attempt failed
}

// PushAttempt is one HTTP attempt of a Push.
type PushAttempt struct {
	Time       time.Time     // wall-clock time the attempt started
	Duration   time.Duration // until the answer, the error or the timeout
	StatusCode int           // HTTP status answered; 0 when there was no answer
	Body       string        // the answer's body (at most 64 KiB)
	Err        string        // transport error or timeout, "" when answered
}

type pushState struct {
	queue   []*Push
	running bool // a delivery goroutine is draining queue
	pending int  // queued or being delivered
	list    []*Push
	client  *http.Client
}

// Pushes returns every push queued so far with its attempts, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.push.list))
	for i, p := range s.push.list {
		out[i] = *p
		out[i].XML = append([]byte(nil), p.XML...)
		out[i].Attempts = append([]PushAttempt(nil), p.Attempts...)
	}
	return out
}

// WaitPushes blocks until every push queued so far has been delivered or has
// failed all its attempts.
func (s *Server) WaitPushes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.push.pending > 0 {
		s.pushCond.Wait()
	}
}

// queuePush queues ev for delivery to the WithEventPush URL (nothing when none
// is configured) and starts the delivery goroutine if needed. Pushes are
// delivered one at a time in the order of the status changes. Callers hold
// s.mu.
func (s *Server) queuePush(ev wxinvoice.InvoiceStatusEvent) {
	if s.cfg.pushURL == "" {
		return
	}
	s.queueEvent(&Push{Name: wxinvoice.EventUpdateInvoiceStatus, Event: ev, XML: InvoiceStatusEventXML(&ev)})
}

// queueEvent queues p (Name and XML set) like queuePush. Callers hold s.mu.
func (s *Server) queueEvent(p *Push) {
	if s.cfg.pushURL == "" {
		return
	}
	p.URL = s.cfg.pushURL
	s.push.list = append(s.push.list, p)
	s.push.queue = append(s.push.queue, p)
	s.push.pending++
	if s.push.client == nil {
		s.push.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // WeChat does not follow redirects of a push
			},
		}
	}
	if !s.push.running {
		s.push.running = true
		go s.deliverLoop()
	}
}

// deliverLoop drains the push queue, then exits.
func (s *Server) deliverLoop() {
	for {
		s.mu.Lock()
		if len(s.push.queue) == 0 {
			s.push.running = false
			s.push.client.CloseIdleConnections()
			s.mu.Unlock()
			return
		}
		p := s.push.queue[0]
		s.push.queue = s.push.queue[1:]
		client := s.push.client
		s.mu.Unlock()

		s.deliver(client, p)

		s.mu.Lock()
		p.Done = true
		s.push.pending--
		s.pushCond.Broadcast()
		s.mu.Unlock()
	}
}

// deliver makes up to 1+retries attempts of p (see deliverSigned).
func (s *Server) deliver(client *http.Client, p *Push) {
	s.deliverSigned(client, p.URL, s.cfg.pushCfg.internal(), p.XML, func(a PushAttempt, ok bool) {
		p.Attempts = append(p.Attempts, a)
		p.Delivered = p.Delivered || ok
	})
}

// deliverSigned pushes eventXML to url as WeChat does, for the invoice and
// the component pushes alike: up to 1+retries attempts, each signed afresh
// (wall clock, new nonce) and timed out after the push timeout; an attempt
// counts as delivered when it is answered 200 with an empty body or
// "success", and anything else (another status, another body, a transport
// error, the timeout) is retried at once. record runs under s.mu after each
// attempt. It reports whether the push was delivered.
func (s *Server) deliverSigned(client *http.Client, url string, cfg pushtest.Config, eventXML []byte, record func(a PushAttempt, ok bool)) bool {
	for i := 0; i <= s.cfg.pushRetries; i++ {
		a := s.attempt(client, url, cfg, eventXML)
		ok := a.Err == "" && a.StatusCode == http.StatusOK &&
			(strings.TrimSpace(a.Body) == "" || strings.TrimSpace(a.Body) == "success")
		s.mu.Lock()
		record(a, ok)
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

func (s *Server) attempt(client *http.Client, url string, cfg pushtest.Config, eventXML []byte) PushAttempt {
	start := time.Now()
	a := PushAttempt{Time: start}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.pushTimeout)
	defer cancel()
	req, err := pushtest.NewRequest(ctx, url, cfg, eventXML)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	return deliver(client, req, a)
}

// deliver sends one push attempt and records its outcome in a (whose Time
// is the attempt's start).
func deliver(client *http.Client, req *http.Request, a PushAttempt) PushAttempt {
	resp, err := client.Do(req)
	if err != nil {
		a.Duration = time.Since(a.Time)
		a.Err = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.Duration = time.Since(a.Time)
	a.StatusCode = resp.StatusCode
	a.Body = string(body)
	if err != nil {
		a.Err = err.Error()
	}
	return a
}
