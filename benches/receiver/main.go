// The peer of benches/webhook_receiver.sh: a Harbor webhook endpoint as Go users write it
// today, with the standard library only. It checks the auth header in constant time, limits
// the body, decodes it into Harbor-shaped structs (the 2.x "Default" payload), hands it to a
// worker goroutine through a bounded channel and answers 200; 503 when the channel is full.
// Nothing is durable: what sits in the channel is lost when the process stops.
//
//	go build -o go-receiver main.go && ./go-receiver -addr 127.0.0.1:8090 -auth 'Bearer x'
package main

import (
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

// Payload is Harbor's 2.x "Default" webhook body.
type Payload struct {
	Type      string     `json:"type"`
	OccurAt   int64      `json:"occur_at"`
	Operator  string     `json:"operator"`
	EventData *EventData `json:"event_data,omitempty"`
}

// EventData is the event-specific part.
type EventData struct {
	Resources        []*Resource            `json:"resources,omitempty"`
	Repository       *Repository            `json:"repository,omitempty"`
	Replication      map[string]interface{} `json:"replication,omitempty"`
	Retention        map[string]interface{} `json:"retention,omitempty"`
	Scan             map[string]interface{} `json:"scan,omitempty"`
	CustomAttributes map[string]string      `json:"custom_attributes,omitempty"`
}

// Resource is one artifact of the event.
type Resource struct {
	Digest       string                 `json:"digest,omitempty"`
	Tag          string                 `json:"tag,omitempty"`
	ResourceURL  string                 `json:"resource_url,omitempty"`
	ScanOverview map[string]interface{} `json:"scan_overview,omitempty"`
	SBOMOverview map[string]interface{} `json:"sbom_overview,omitempty"`
}

// Repository is the repository of the event.
type Repository struct {
	DateCreated  int64  `json:"date_created,omitempty"`
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	RepoFullName string `json:"repo_full_name"`
	RepoType     string `json:"repo_type"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "where to listen")
	auth := flag.String("auth", "", "the Authorization value to require")
	queue := flag.Int("queue", 1024, "the channel's capacity")
	flag.Parse()

	events := make(chan *Payload, *queue)
	go func() {
		for event := range events {
			_ = event // the slow part of a real receiver goes here
		}
	}()

	expected := []byte(*auth)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), expected) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var payload Payload
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&payload); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case events <- &payload:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", listener.Addr())
	log.Fatal(http.Serve(listener, nil))
}
