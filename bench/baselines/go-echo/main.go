// go-echo: the Go net/http baseline for bench/http_agentd.py (issue 6).
// Serves what agentd's benchmarked routes answer: GET /healthz and
// POST /v1/agents/echo/invoke (decodes the AgentRequest JSON, answers
// {"agent":"echo","shard":0,"output":<input>}). Run with GOMAXPROCS=1.
//
//	go-echo <port>
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
)

type request struct {
	SessionID string          `json:"session_id,omitempty"`
	Input     json.RawMessage `json:"input"`
}

type answer struct {
	Agent  string          `json:"agent"`
	Shard  int             `json:"shard"`
	Output json.RawMessage `json:"output"`
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go-echo <port>")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("/v1/agents/echo/invoke", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, `{"error":{"code":"method_not_allowed","message":"POST only"}}`, 405)
			return
		}
		var req request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Input == nil {
			http.Error(w, `{"error":{"code":"invalid_json","message":"bad request"}}`, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer{Agent: "echo", Output: req.Input})
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], mux))
}
