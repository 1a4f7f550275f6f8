package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

const privilegedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"owner":"team-a"}},
"spec":{"containers":[{"name":"c","image":"registry.company.com/app:1.0","livenessProbe":{"tcpSocket":{"port":80}},"securityContext":{"privileged":true}}]}}`

// compliantDeployment passes the built-in library but for image digests,
// which this project runs as a dry run.
const compliantDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"app":"web","owner":"team-shop"}},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web","owner":"team-shop"}},
"spec":{"serviceAccountName":"web","automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[
{"name":"web","image":"registry.company.com/web:1.4.2","ports":[{"containerPort":8080}],
 "resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},
 "livenessProbe":{"httpGet":{"path":"/healthz","port":8080}},"readinessProbe":{"httpGet":{"path":"/readyz","port":8080}},
 "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}}},
{"name":"sidecar","image":"registry.company.com/proxy:2.0.1",
 "resources":{"requests":{"cpu":"50m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"128Mi"}},
 "livenessProbe":{"tcpSocket":{"port":9901}},"readinessProbe":{"tcpSocket":{"port":9901}},
 "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}}}]}}}}`

// noLimits: the same Deployment without limits, which this project's
// resource-limits policy only warns about.
var noLimits = strings.NewReplacer(`,"limits":{"cpu":"500m","memory":"256Mi"}`, ``, `,"limits":{"cpu":"200m","memory":"128Mi"}`, ``).Replace(compliantDeployment)

// exemptedPod is privileged, with an approved annotation exemption for
// the policy that says so.
var exemptedPod = strings.Replace(privilegedPod, `"labels":{"owner":"team-a"}`,
	`"labels":{"owner":"team-a"},"annotations":{"policy.attest.continuu.ms/exempt":"attest-security","policy.attest.continuu.ms/exempt-reason":"node agent needs host access","policy.attest.continuu.ms/exempt-approved-by":"security@company.com","policy.attest.continuu.ms/exempt-expires":"2099-12-31"}`, 1)

func decode(t *testing.T, b []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &rv); err != nil {
		t.Fatalf("response: %v\n%s", err, b)
	}
	if rv.APIVersion != "admission.k8s.io/v1" || rv.Kind != "AdmissionReview" || rv.Response == nil {
		t.Fatalf("response is not an AdmissionReview v1 with a response: %s", b)
	}
	return rv.Response
}

func TestAdmission(t *testing.T) {
	ts := start(t, newProject(t, nil))
	ts.waitReady(t)
	tests := []struct {
		name        string
		op          string
		object, old string
		allowed     bool
		messageHas  []string
		warningHas  string
		noWarnings  bool
	}{
		{name: "privileged pod is denied", op: "CREATE", object: privilegedPod,
			messageHas: []string{"[attest-security] Privileged containers are not allowed: c"}},
		{name: "compliant deployment is admitted, dryrun findings only counted", op: "CREATE", object: compliantDeployment, allowed: true, noWarnings: true},
		{name: "warn-mode finding is a warning", op: "CREATE", object: noLimits, allowed: true, warningHas: "[resource-limits] "},
		{name: "annotation exemption is honoured", op: "CREATE", object: exemptedPod, allowed: true},
		{name: "update judges the new object", op: "UPDATE", object: privilegedPod, old: compliantDeployment,
			messageHas: []string{"Privileged containers are not allowed"}},
		{name: "update to a compliant object passes whatever the old one was", op: "UPDATE", object: compliantDeployment, old: privilegedPod, allowed: true},
		{name: "delete judges oldObject", op: "DELETE", old: privilegedPod, messageHas: []string{"Privileged containers are not allowed"}},
		{name: "delete of a compliant object", op: "DELETE", old: compliantDeployment, allowed: true},
		{name: "collection delete without objects", op: "DELETE", allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := "705ab4f5-6393-11e8-b7cc-42010a800002"
			code, body := ts.post(t, "/v1/admission", "application/json", review(uid, tt.op, tt.object, tt.old))
			if code != 200 {
				t.Fatalf("HTTP %d: %s", code, body)
			}
			r := decode(t, body)
			if string(r.UID) != uid {
				t.Errorf("uid %q, want %q", r.UID, uid)
			}
			if r.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v: %s", r.Allowed, tt.allowed, body)
			}
			if !tt.allowed {
				if r.Result == nil || r.Result.Code != 403 {
					t.Fatalf("denial without status code 403: %s", body)
				}
				for _, m := range tt.messageHas {
					if !strings.Contains(r.Result.Message, m) {
						t.Errorf("message %q lacks %q", r.Result.Message, m)
					}
				}
			}
			if tt.warningHas != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.warningHas) {
				t.Errorf("warnings %q lack %q", r.Warnings, tt.warningHas)
			}
			if tt.noWarnings && len(r.Warnings) > 0 {
				t.Errorf("warnings %q, want none", r.Warnings)
			}
		})
	}

	fams := ts.scrape(t)
	if v := sample(fams, "attest_policy_violation_severity", map[string]string{"severity": "critical", "policy": "attest-security"}); v < 3 {
		t.Errorf("critical attest-security violations counted %v, want at least 3", v)
	}
	if v := sample(fams, "attest_policy_evaluations_total", map[string]string{"policy": "attest-security", "result": "passed"}); v < 3 {
		t.Errorf("passed attest-security evaluations %v, want at least 3", v)
	}
	if v := sample(fams, "attest_policy_violations_total", map[string]string{"policy": "image-security", "enforcement": "dryrun"}); v == 0 {
		t.Error("dryrun findings not counted")
	}
	if v := sample(fams, "attest_policy_exemptions_total", map[string]string{"policy": "attest-security"}); v == 0 {
		t.Error("exempted finding not counted")
	}
	if v := sample(fams, "attest_policy_evaluation_duration_seconds", map[string]string{"engine": "opa"}); v < 8 {
		t.Errorf("duration histogram has %v observations, want 8", v)
	}
	if v := sample(fams, "attest_admission_reviews_total", map[string]string{"decision": "denied"}); v != 3 {
		t.Errorf("denied reviews %v, want 3", v)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "attest_bundle_last_successful_load_timestamp_seconds"} {
		if fams[name] == nil {
			t.Errorf("no %s on /metrics", name)
		}
	}
}

func TestBadInput(t *testing.T) {
	ts := start(t, newProject(t, nil), WithBodyLimit(64<<10))
	ts.waitReady(t)
	good := review("u1", "CREATE", compliantDeployment, "")
	tests := []struct {
		name        string
		contentType string
		body        []byte
		code        int
		errHas      string
	}{
		{"malformed JSON", "application/json", []byte(`{"kind":"AdmissionReview",`), 400, "malformed AdmissionReview"},
		{"not JSON", "application/json", []byte("\x00\x01binary"), 400, "malformed AdmissionReview"},
		{"wrong apiVersion", "application/json", []byte(strings.Replace(string(good), "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1)), 400, "want apiVersion admission.k8s.io/v1"},
		{"no request", "application/json", []byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}`), 400, "no request"},
		{"no uid", "application/json", []byte(strings.Replace(string(good), `"uid":"u1"`, `"uid":""`, 1)), 400, "no uid"},
		{"unknown operation", "application/json", []byte(strings.Replace(string(good), `"operation":"CREATE"`, `"operation":"PATCH"`, 1)), 400, "unknown operation"},
		{"create without object", "application/json", review("u2", "CREATE", "", ""), 400, "no object"},
		{"two JSON values", "application/json", append(append([]byte{}, good...), good...), 400, "data after"},
		{"oversized body", "application/json", []byte(`{"kind":"AdmissionReview","x":"` + strings.Repeat("a", 100<<10) + `"}`), 413, "over the 65536 byte limit"},
		{"wrong content type", "text/plain", good, 415, "application/json"},
		{"a longer content type", "application/jsonx", good, 415, "application/json"},
		// Valid JSON, but beyond what OPA can compare: it panicked inside the
		// evaluation and the connection closed without an answer.
		{"huge number", "application/json", []byte(strings.Replace(string(good), `"replicas":2`, `"replicas":1e1000000000`, 1)), 400, "number out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ts.post(t, "/v1/admission", tt.contentType, tt.body)
			if code != tt.code {
				t.Fatalf("HTTP %d, want %d: %s", code, tt.code, body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tt.errHas) {
				t.Errorf("error %q (%v), want it to contain %q", body, err, tt.errHas)
			}
		})
	}
	// Media types are case-insensitive and take parameters.
	if code, body := ts.post(t, "/v1/admission", "Application/JSON; charset=utf-8", good); code != 200 {
		t.Errorf("Application/JSON; charset=utf-8: HTTP %d: %s", code, body)
	}
	// A compressed body is refused, not read as JSON (nor a plain one
	// labelled compressed taken as it is).
	req, err := http.NewRequest(http.MethodPost, ts.url+"/v1/admission", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("Content-Encoding gzip: HTTP %d, want 415", resp.StatusCode)
	}
	// An object that is not a Kubernetes object: a decision, not an HTTP error.
	code, body := ts.post(t, "/v1/admission", "application/json", review("u3", "CREATE", `{"spec":{}}`, ""))
	if r := decode(t, body); code != 200 || r.Allowed || r.Result.Code != 400 {
		t.Errorf("HTTP %d %s: want a denial with code 400", code, body)
	}
	// The server is still up and right.
	code, body = ts.post(t, "/v1/admission", "application/json", good)
	if r := decode(t, body); code != 200 || !r.Allowed {
		t.Fatalf("after bad input: HTTP %d %s", code, body)
	}
	if v := sample(ts.scrape(t), "attest_http_requests_total", map[string]string{"handler": "admission", "code": "400"}); v < 7 {
		t.Errorf("400s counted %v", v)
	}
}

// A client that sends half its headers and stops is cut off by the read
// timeout; other clients are served meanwhile.
func TestSlowClient(t *testing.T) {
	ts := start(t, newProject(t, nil), WithTimeouts(300*time.Millisecond, 5*time.Second))
	ts.waitReady(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /v1/admission HTTP/1.1\r\nHost: attest\r\nContent-Type: application/json\r\n"); err != nil {
		t.Fatal(err)
	}
	code, body := ts.post(t, "/v1/admission", "application/json", review("u1", "CREATE", compliantDeployment, ""))
	if code != 200 || !decode(t, body).Allowed {
		t.Fatalf("while a client stalls: HTTP %d %s", code, body)
	}
	// The stalled connection is closed by the server (after at most a 408).
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("stalled connection not closed by the server: %v", err)
	}
	if len(rest) > 0 && !strings.Contains(string(rest), "408") {
		t.Errorf("stalled connection got %q", rest)
	}

	// A slow body: headers complete, the body never comes.
	conn2, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	io.WriteString(conn2, "POST /v1/admission HTTP/1.1\r\nHost: attest\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	_ = conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn2), nil)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// 408, and no network error text (it named both ends' addresses).
		if resp.StatusCode != http.StatusRequestTimeout || strings.Contains(string(b), "127.0.0.1") {
			t.Errorf("slow body: HTTP %d %s, want 408 without addresses", resp.StatusCode, b)
		}
	}
}

func TestPolicyTimeout(t *testing.T) {
	o := newProject(t, map[string]string{
		"policies/slow.rego":    slowPolicy,
		".attest/policies.yaml": projectConfig + "policy:\n  timeout: 200ms\n",
	})
	ts := start(t, o)
	ts.waitReady(t)
	code, body := ts.post(t, "/v1/admission", "application/json", review("u1", "CREATE", compliantDeployment, ""))
	if code != 200 {
		t.Fatalf("HTTP %d %s", code, body)
	}
	r := decode(t, body)
	if r.Allowed || r.Result.Code != 403 || !strings.Contains(r.Result.Message, "[slow] policy evaluation failed") {
		t.Fatalf("a policy that times out must deny, naming it: %s", body)
	}
	if v := sample(ts.scrape(t), "attest_policy_evaluation_errors_total", map[string]string{"policy": "slow"}); v != 1 {
		t.Errorf("evaluation errors %v, want 1", v)
	}
}

func TestReadyAndHealth(t *testing.T) {
	o := newProject(t, map[string]string{"policies/broken.rego": "package broken\n\ndeny contains msg if {\n"})
	ts := start(t, o)
	// The first load has failed (start waits for it): not ready, but alive.
	resp, err := ts.client.Get(ts.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = ts.client.Get(ts.url + "/readyz")
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("readyz with a broken policy: %v %v, want 503", err, resp)
	}
	resp.Body.Close()
	code, _ := ts.post(t, "/v1/admission", "application/json", review("u1", "CREATE", compliantDeployment, ""))
	if code != 503 {
		t.Errorf("admission before policies load: HTTP %d, want 503", code)
	}
	if v := sample(ts.scrape(t), "attest_bundle_load_failures_total", map[string]string{"reason": "compile"}); v != 1 {
		t.Errorf("compile failures %v, want 1", v)
	}
	// Fixed, and reloaded: ready.
	writeFiles(t, o.Dir, map[string]string{"policies/broken.rego": "package broken\n"})
	if err := ts.Reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	ts.waitReady(t)
}

func TestGracefulShutdown(t *testing.T) {
	slow := `package slowish

import rego.v1

deny contains msg if {
	count([i | some i in numbers.range(1, 3000000)]) < 0
	msg := "never"
}
`
	ts := start(t, newProject(t, map[string]string{"policies/slowish.rego": slow}))
	ts.waitReady(t)
	type result struct {
		code int
		err  error
	}
	got := make(chan result, 1)
	started := make(chan struct{})
	go func() {
		req, _ := http.NewRequest("POST", ts.url+"/v1/admission", strings.NewReader(string(review("u1", "CREATE", compliantDeployment, ""))))
		req.Header.Set("Content-Type", "application/json")
		close(started)
		resp, err := ts.client.Do(req)
		if err != nil {
			got <- result{0, err}
			return
		}
		resp.Body.Close()
		got <- result{resp.StatusCode, nil}
	}()
	<-started
	// Wait until the request is in flight (the scrape itself is not
	// counted), then shut down under it.
	deadline := time.Now().Add(10 * time.Second)
	for sample(ts.scrape(t), "attest_http_requests_in_flight", nil) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request never got in flight")
		}
	}
	ts.stop()
	r := <-got
	if r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request across shutdown: %d %v", r.code, r.err)
	}
}
