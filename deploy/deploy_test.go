package deploy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/cloudpost/cloudpost/apps/config"
	"github.com/cloudpost/cloudpost/apps/httpapi"
	"github.com/cloudpost/cloudpost/apps/lambda/functions"
	"github.com/cloudpost/cloudpost/core/domain"
)

// The sample deployment the template is resolved for.
const (
	region    = "eu-west-1"
	account   = "123456789012"
	stackName = "cloudpost"
	poolID    = "eu-west-1_AbCdEf123"
	clientID  = "1example23456789abcdefghij"
	apiID     = "a1b2c3d4e5"
	bucket    = "cloudpost-media-test"
	// The sample deployment's push settings.
	fcmApp      = "arn:aws:sns:eu-west-1:123456789012:app/GCM/cloudpost"
	apnsApp     = "arn:aws:sns:eu-west-1:123456789012:app/APNS/cloudpost"
	sandboxApp  = "arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/cloudpost-dev"
	vapidSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cloudpost-vapid-AbCdEf"
)

// scenario is one way of filling in the template's parameters.
type scenario struct {
	name   string
	params map[string]any
}

var scenarios = []scenario{
	{"IAM database auth with a reader, FCM, APNs and Web Push", map[string]any{
		"MediaBucketName": bucket, "AllowedOrigins": "https://app.example.com,https://admin.example.com",
		"DBWriterEndpoint": "db.cluster-abc.eu-west-1.rds.amazonaws.com", "DBReaderEndpoint": "db.cluster-ro-abc.eu-west-1.rds.amazonaws.com",
		"DBAuth": "iam", "DBResourceId": "cluster-ABCDEFGHIJKLMNOP", "SubnetIds": "subnet-1,subnet-2", "SecurityGroupId": "sg-1",
		"FCMApplicationArn": fcmApp, "APNsApplicationArn": apnsApp, "VapidSecretArn": vapidSecret, "VapidSubject": "mailto:ops@example.com",
	}},
	{"secret database auth, no reader, no push channel", map[string]any{
		"MediaBucketName": bucket, "DBWriterEndpoint": "db.abc.eu-west-1.rds.amazonaws.com", "DBAuth": "secret",
		"DBSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cloudpost-db-AbCdEf", "SubnetIds": "subnet-1", "SecurityGroupId": "sg-1",
	}},
	{"IAM database auth, APNs sandbox only", map[string]any{
		"MediaBucketName": bucket, "DBWriterEndpoint": "db.abc.eu-west-1.rds.amazonaws.com",
		"DBAuth": "iam", "DBResourceId": "cluster-ABCDEFGHIJKLMNOP", "SubnetIds": "subnet-1", "SecurityGroupId": "sg-1",
		"APNsApplicationArn": sandboxApp, "APNsSandbox": "true",
	}},
}

// pushFunctions are the handlers that push (and so get the push channels'
// configuration): the API registers devices, the push function and the
// janitor run the relay.
var pushFunctions = []string{functions.HandlerAPI, functions.HandlerPush, functions.HandlerJanitor}

// queueURL and queueARN are what Ref and GetAtt Arn give for an SQS queue
// of the template.
func queueURL(logicalID string) string {
	return "https://sqs." + region + ".amazonaws.com/" + account + "/" + stackName + "-" + logicalID
}

func queueARN(logicalID string) string {
	return "arn:aws:sqs:" + region + ":" + account + ":" + stackName + "-" + logicalID
}

// endpointsOf is the ARN pattern of an SNS platform application's endpoints.
func endpointsOf(app string) string {
	return strings.Replace(app, ":app/", ":endpoint/", 1) + "/*"
}

// resolver evaluates the template's intrinsic functions for one scenario,
// with values for pseudo parameters and resource references, and records
// references to names that do not exist.
type resolver struct {
	params    map[string]any
	resources map[string]string // logical id -> type
	bad       []string
}

func (r *resolver) ref(name string, tpl any) any {
	switch name {
	case "AWS::Region":
		return region
	case "AWS::AccountId":
		return account
	case "AWS::Partition":
		return "aws"
	case "AWS::StackName":
		return stackName
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::NoValue":
		return nil
	}
	if params, ok := tpl.(map[string]any)["Parameters"].(map[string]any); ok {
		if p, ok := params[name].(map[string]any); ok {
			v, set := r.params[name]
			if !set {
				if v, set = p["Default"]; !set {
					r.bad = append(r.bad, "parameter "+name+" has no value in the scenario and no default")
					return ""
				}
			}
			if t, _ := p["Type"].(string); strings.HasPrefix(t, "List<") || t == "CommaDelimitedList" {
				var list []any
				for s := range strings.SplitSeq(fmt.Sprint(v), ",") {
					list = append(list, s)
				}
				return list
			}
			return fmt.Sprint(v)
		}
	}
	switch r.resources[name] {
	case "AWS::Cognito::UserPool":
		return poolID
	case "AWS::Cognito::UserPoolClient":
		return clientID
	case "AWS::Serverless::HttpApi":
		return apiID
	case "AWS::S3::Bucket":
		return r.params["MediaBucketName"]
	case "AWS::Serverless::Function":
		return "fn-" + name
	case "AWS::SQS::Queue":
		return queueURL(name)
	case "":
		r.bad = append(r.bad, "Ref to unknown name "+name)
		return ""
	}
	return "ref-" + name
}

func (r *resolver) getAtt(res, attr string) any {
	typ, ok := r.resources[res]
	switch {
	case !ok:
		r.bad = append(r.bad, "GetAtt of unknown resource "+res)
		return ""
	case typ == "AWS::Cognito::UserPool" && attr == "Arn":
		return "arn:aws:cognito-idp:" + region + ":" + account + ":userpool/" + poolID
	case typ == "AWS::Serverless::Function" && attr == "Arn":
		return "arn:aws:lambda:" + region + ":" + account + ":function:fn-" + res
	case typ == "AWS::SQS::Queue" && attr == "Arn":
		return queueARN(res)
	}
	return "getatt-" + res + "." + attr
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (r *resolver) sub(input any, tpl any) any {
	var src string
	vars := map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) != 2 {
			r.bad = append(r.bad, "malformed Fn::Sub")
			return ""
		}
		src, _ = v[0].(string)
		vars, _ = v[1].(map[string]any)
	}
	return subVar.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(v)
		}
		if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			return fmt.Sprint(r.getAtt(res, attr))
		}
		return fmt.Sprint(r.ref(name, tpl))
	})
}

// parse resolves the template for s; it returns it as a samTemplate and
// as generic JSON.
func parse(t *testing.T, s scenario) (*samTemplate, map[string]any) {
	t.Helper()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// First pass, unresolved: the resource types, for Ref and GetAtt.
	unresolved, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	var raw map[string]any
	if err := jsonUnmarshal(unresolved, &raw); err != nil {
		t.Fatal(err)
	}
	r := &resolver{params: s.params, resources: map[string]string{}}
	for name, res := range asMap(raw["Resources"]) {
		r.resources[name], _ = dig(res, "Type").(string)
	}
	opts := &intrinsics.ProcessorOptions{
		EvaluateConditions: true,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": func(_ string, in any, tpl any) any {
				name, _ := in.(string)
				return r.ref(name, tpl)
			},
			"Fn::GetAtt": func(_ string, in any, _ any) any {
				var parts []string
				switch v := in.(type) {
				case []any:
					for _, p := range v {
						parts = append(parts, fmt.Sprint(p))
					}
				case string:
					parts = strings.SplitN(v, ".", 2)
				}
				if len(parts) != 2 {
					r.bad = append(r.bad, fmt.Sprintf("malformed Fn::GetAtt %v", in))
					return ""
				}
				return r.getAtt(parts[0], parts[1])
			},
			"Fn::Sub": func(_ string, in any, tpl any) any { return r.sub(in, tpl) },
			// goformation's Fn::Split gives a []string, which its own
			// Fn::Select does not take.
			"Fn::Split": func(_ string, in any, _ any) any {
				args, _ := in.([]any)
				if len(args) != 2 {
					r.bad = append(r.bad, fmt.Sprintf("malformed Fn::Split %v", in))
					return nil
				}
				delim, ok1 := args[0].(string)
				src, ok2 := args[1].(string)
				if !ok1 || !ok2 {
					r.bad = append(r.bad, fmt.Sprintf("Fn::Split of %v", in))
					return nil
				}
				var out []any
				for _, part := range strings.Split(src, delim) {
					out = append(out, part)
				}
				return out
			},
		},
	}
	processed, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &samTemplate{}
	if err := jsonUnmarshal(processed, tpl); err != nil {
		t.Fatalf("%s: template: %v", s.name, err)
	}
	var generic map[string]any
	if err := jsonUnmarshal(processed, &generic); err != nil {
		t.Fatal(err)
	}
	if len(r.bad) > 0 {
		t.Fatalf("%s: %s", s.name, strings.Join(r.bad, "; "))
	}
	return tpl, generic
}

// function is one resolved AWS::Serverless::Function.
type function struct {
	name string
	fn   *samFunction
	env  map[string]string
}

// templateFunctions returns the template's functions by handler, with Globals
// applied as SAM applies them.
func templateFunctions(t *testing.T, tpl *samTemplate, generic map[string]any) map[string]function {
	t.Helper()
	globals := dig(generic, "Globals", "Function")
	out := map[string]function{}
	for _, name := range tpl.namesOfType("AWS::Serverless::Function") {
		fn := &samFunction{}
		tpl.decodeProperties(t, name, fn)
		if fn.Handler == nil {
			t.Fatalf("%s has no Handler", name)
		}
		env := map[string]string{}
		for k, v := range asMap(dig(globals, "Environment", "Variables")) {
			if v != nil {
				env[k] = fmt.Sprint(v)
			}
		}
		if fn.Environment != nil {
			for k, v := range fn.Environment.Variables {
				env[k] = v
			}
		}
		if _, dup := out[*fn.Handler]; dup {
			t.Fatalf("two functions with Handler %q", *fn.Handler)
		}
		out[*fn.Handler] = function{name: name, fn: fn, env: env}
	}
	return out
}

func TestTemplateFunctionsMatchTheBootstrap(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			tpl, generic := parse(t, s)
			if tpl.Transform != "AWS::Serverless-2016-10-31" {
				t.Fatal("not a SAM template")
			}
			fns := templateFunctions(t, tpl, generic)
			var handlers []string
			for h := range fns {
				handlers = append(handlers, h)
			}
			sort.Strings(handlers)
			want := slices.Sorted(slices.Values(functions.HandlerNames))
			if !slices.Equal(handlers, want) {
				t.Fatalf("functions' handlers %q, the bootstrap has %q", handlers, want)
			}
			globals := dig(generic, "Globals", "Function")
			if dig(globals, "Runtime") != "provided.al2023" || !reflect.DeepEqual(dig(globals, "Architectures"), []any{"arm64"}) ||
				dig(globals, "CodeUri") != "../dist/lambda.zip" {
				t.Errorf("Globals: %v", globals)
			}
			for h, f := range fns {
				if f.fn.Runtime != nil || f.fn.CodeUri != nil || len(f.fn.Architectures) > 0 {
					t.Errorf("%s overrides the shared runtime, architecture or artifact", f.name)
				}
				// The function's configuration must be what the bootstrap accepts.
				environ := []string{"_HANDLER=" + h}
				for k, v := range f.env {
					environ = append(environ, k+"="+v)
				}
				cfg, err := config.Load(environ)
				if err != nil {
					t.Errorf("%s: apps/config refuses the template's environment: %v", f.name, err)
					continue
				}
				if _, err := functions.LoadConfig(environ); err != nil {
					t.Errorf("%s: %v", f.name, err)
				}
				if cfg.Storage != config.StorageMySQL || cfg.Blob != config.BlobS3 || cfg.Auth != config.AuthCognito || cfg.LogFormat != "json" {
					t.Errorf("%s: adapters %s/%s/%s, logs %s", f.name, cfg.Storage, cfg.Blob, cfg.Auth, cfg.LogFormat)
				}
				if cfg.MySQL.Migrate != "off" {
					t.Errorf("%s: migrations must not run at a cold start", f.name)
				}
				iam := s.params["DBAuth"] == "iam"
				if cfg.MySQL.IAMAuth != iam || strings.Contains(cfg.MySQL.DSN, "{{resolve:secretsmanager:") == iam {
					t.Errorf("%s: DBAuth=%v gives IAM auth %v and DSN %q", f.name, s.params["DBAuth"], cfg.MySQL.IAMAuth, cfg.MySQL.DSN)
				}
				if (cfg.MySQL.ReaderDSN != "") != (s.params["DBReaderEndpoint"] != nil) {
					t.Errorf("%s: reader DSN %q", f.name, cfg.MySQL.ReaderDSN)
				}
				if cfg.S3.Bucket != bucket || cfg.Cognito.UserPoolID != poolID || cfg.Cognito.ClientID != clientID {
					t.Errorf("%s: bucket %q pool %q client %q", f.name, cfg.S3.Bucket, cfg.Cognito.UserPoolID, cfg.Cognito.ClientID)
				}
				origins := strings.Split(fmt.Sprint(orDefault(s.params["AllowedOrigins"], "http://localhost:3000")), ",")
				if !slices.Equal(cfg.CORSOrigins, origins) {
					t.Errorf("%s: CORS origins %q, want %q", f.name, cfg.CORSOrigins, origins)
				}
				for k := range f.env {
					if !knownVariables[k] {
						t.Errorf("%s sets %s, which no configuration reads", f.name, k)
					}
				}
				checkPushConfig(t, s, h, f, cfg)
			}
		})
	}
}

// checkPushConfig checks a function's push configuration: on AWS no
// memory recorder; the functions that push get the scenario's channels,
// the VAPID private key only as a Secrets Manager dynamic reference; the
// others get none; the API announces notifications on the queue and the
// push function reschedules due-later ones there.
func checkPushConfig(t *testing.T, s scenario, handler string, f function, cfg config.Config) {
	t.Helper()
	if cfg.Push.Unconfigured != config.PushRefuse {
		t.Errorf("%s: CLOUDPOST_PUSH_UNCONFIGURED=%s; on AWS a platform without a channel must be refused", f.name, cfg.Push.Unconfigured)
	}
	wantQueue := ""
	if handler == functions.HandlerAPI || handler == functions.HandlerPush {
		wantQueue = queueURL("PushQueue")
	}
	if cfg.Push.QueueURL != wantQueue {
		t.Errorf("%s: CLOUDPOST_PUSH_QUEUE_URL %q, want %q", f.name, cfg.Push.QueueURL, wantQueue)
	}
	param := func(name string) string { v, _ := s.params[name].(string); return v }
	if !slices.Contains(pushFunctions, handler) {
		if cfg.Push.WebPush() || cfg.Push.SNSOn() || cfg.Push.VAPIDSubject != "" {
			t.Errorf("%s pushes nothing but gets push channels: %+v", f.name, cfg.Push)
		}
		return
	}
	sns := cfg.Push.SNS
	if sns.FCMApplicationARN != param("FCMApplicationArn") || sns.APNsApplicationARN != param("APNsApplicationArn") ||
		sns.APNsSandbox != (param("APNsSandbox") == "true") {
		t.Errorf("%s: SNS configuration %+v, want the scenario's applications", f.name, sns)
	}
	if vapid := param("VapidSecretArn"); vapid != "" {
		ref := func(key string) string { return "{{resolve:secretsmanager:" + vapid + ":SecretString:" + key + "}}" }
		if cfg.Push.VAPIDPrivateKey != ref("privateKey") || cfg.Push.VAPIDPublicKey != ref("publicKey") || cfg.Push.VAPIDSubject != param("VapidSubject") {
			t.Errorf("%s: VAPID keys %q %q subject %q; want dynamic references to %s and the scenario's subject",
				f.name, cfg.Push.VAPIDPublicKey, cfg.Push.VAPIDPrivateKey, cfg.Push.VAPIDSubject, vapid)
		}
	} else if cfg.Push.WebPush() || cfg.Push.VAPIDSubject != "" {
		t.Errorf("%s: Web Push configured without VapidSecretArn: %+v", f.name, cfg.Push)
	}
}

// TestTemplateKeepsTheVAPIDKeyOutOfParameters: the VAPID private key is
// never a template parameter (whose value CloudFormation shows and keeps
// in the stack's history), only the ARN of the secret that holds it.
func TestTemplateKeepsTheVAPIDKeyOutOfParameters(t *testing.T) {
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	processed, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err == nil {
		err = jsonUnmarshal(processed, &raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	for name := range asMap(raw["Parameters"]) {
		lower := strings.ToLower(name)
		if strings.Contains(lower, "key") || strings.Contains(lower, "vapid") && name != "VapidSecretArn" && name != "VapidSubject" {
			t.Errorf("parameter %s: the VAPID keys come from Secrets Manager (VapidSecretArn), never a parameter", name)
		}
	}
}

func orDefault(v any, def string) any {
	if v == nil {
		return def
	}
	return v
}

// knownVariables are the variables apps/config and functions read, and
// GOMEMLIMIT, which the Go runtime reads (and the image pipeline's budget
// follows).
var knownVariables = func() map[string]bool {
	out := map[string]bool{"GOMEMLIMIT": true}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				out[name] = true
			} else if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	walk(reflect.TypeFor[functions.Config]())
	return out
}()

// TestTemplateImageFunctionsHaveRoomForTheWorstImage: the functions that
// run the image pipeline have the memory its worst allowed input needs
// (at 40 MP: adapters/imaging TestPeakMemoryTable measures it) and a
// GOMEMLIMIT below it.
func TestTemplateImageFunctionsHaveRoomForTheWorstImage(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	fns := templateFunctions(t, tpl, generic)
	for _, h := range []string{functions.HandlerMedia, functions.HandlerJanitor} {
		f := fns[h]
		mem := fmt.Sprint(dig(generic, "Resources", f.name, "Properties", "MemorySize"))
		if mem != "1024" || f.env["GOMEMLIMIT"] != "800MiB" {
			t.Errorf("%s: MemorySize %s, GOMEMLIMIT %q; want 1024 and 800MiB", f.name, mem, f.env["GOMEMLIMIT"])
		}
	}
}

func TestTemplateMediaEventsAndBucket(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	media := templateFunctions(t, tpl, generic)[functions.HandlerMedia]
	if len(media.fn.Events) != 1 {
		t.Fatalf("media events: %v", media.fn.Events)
	}
	for name, ev := range media.fn.Events {
		var s3 s3Event
		decodeEvent(t, "media event "+name, ev, "S3", &s3)
		if s3.Events != "s3:ObjectCreated:*" {
			t.Fatalf("media event %+v", ev)
		}
		if s3.Bucket != bucket {
			t.Errorf("media event bucket %q", s3.Bucket)
		}
		rules := s3.Filter.S3Key.Rules
		if len(rules) != 1 || rules[0].Name != "prefix" {
			t.Fatalf("media event filter %+v", rules)
		}
		// The filter is the code's upload prefix, and the pipeline's output
		// is outside it.
		prefix := rules[0].Value
		if up := domain.UploadKey("o", "m"); !strings.HasPrefix(up, prefix) || strings.Count(prefix, "/") != 1 {
			t.Errorf("filter %q does not select upload keys like %q", prefix, up)
		}
		if _, _, ok := domain.ParseUploadKey(prefix + "o/m"); !ok {
			t.Errorf("filter %q selects keys the handler ignores", prefix)
		}
		if v := domain.VariantKey("m", domain.VariantThumb); strings.HasPrefix(v, prefix) {
			t.Errorf("variants (%q) would trigger the pipeline again", v)
		}
	}
	if cfg := media.fn.EventInvokeConfig; cfg == nil || cfg.MaximumRetryAttempts == nil || *cfg.MaximumRetryAttempts > 2 {
		t.Errorf("media retries must be bounded: %+v", cfg)
	}

	var b s3Bucket
	tpl.resource(t, "MediaBucket", "AWS::S3::Bucket", &b)
	if b.BucketName == nil || *b.BucketName != bucket {
		t.Errorf("bucket name %v", b.BucketName)
	}
	pab := b.PublicAccessBlockConfiguration
	if pab == nil || !isTrue(pab.BlockPublicAcls) || !isTrue(pab.BlockPublicPolicy) || !isTrue(pab.IgnorePublicAcls) || !isTrue(pab.RestrictPublicBuckets) {
		t.Errorf("Block Public Access must be fully on: %s", dig(generic, "Resources", "MediaBucket", "Properties", "PublicAccessBlockConfiguration"))
	}
	if b.CorsConfiguration == nil || len(b.CorsConfiguration.CorsRules) != 1 {
		t.Fatalf("bucket CORS %+v", b.CorsConfiguration)
	}
	rule := b.CorsConfiguration.CorsRules[0]
	if !slices.Equal(rule.AllowedOrigins, []string{"https://app.example.com", "https://admin.example.com"}) ||
		!slices.Equal(rule.AllowedMethods, []string{"PUT", "GET", "HEAD"}) ||
		!slices.Contains(rule.AllowedHeaders, "Content-Type") || !slices.Contains(rule.AllowedHeaders, "If-None-Match") {
		t.Errorf("bucket CORS rule %+v (presigned PUTs sign Content-Type and If-None-Match)", rule)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestTemplateCognito(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	fns := templateFunctions(t, tpl, generic)
	cognito := fns[functions.HandlerCognito]
	var pool cognitoUserPool
	tpl.resource(t, "UserPool", "AWS::Cognito::UserPool", &pool)
	if cognito.fn.FunctionName == nil {
		t.Fatal("the cognito function needs a fixed name (the pool names it by ARN)")
	}
	arn := "arn:aws:lambda:" + region + ":" + account + ":function:" + *cognito.fn.FunctionName
	if pool.LambdaConfig == nil || pool.LambdaConfig.PostConfirmation == nil {
		t.Fatal("the user pool has no post-confirmation trigger")
	}
	if got := *pool.LambdaConfig.PostConfirmation; got != arn {
		t.Errorf("post-confirmation trigger %s, want the cognito function %s", got, arn)
	}
	if !slices.Equal(pool.UsernameAttributes, []string{"email"}) {
		t.Errorf("username attributes %v (cognitoauth signs in by email)", pool.UsernameAttributes)
	}
	var permitted bool
	for _, name := range tpl.namesOfType("AWS::Lambda::Permission") {
		var p lambdaPermission
		tpl.decodeProperties(t, name, &p)
		if p.Principal == "cognito-idp.amazonaws.com" && p.Action == "lambda:InvokeFunction" &&
			p.FunctionName == "arn:aws:lambda:"+region+":"+account+":function:fn-"+cognito.name &&
			p.SourceArn != nil && *p.SourceArn == "arn:aws:cognito-idp:"+region+":"+account+":userpool/"+poolID {
			permitted = true
		}
	}
	if !permitted {
		t.Error("no permission for the user pool to invoke the cognito function")
	}
	var client cognitoUserPoolClient
	tpl.resource(t, "UserPoolClient", "AWS::Cognito::UserPoolClient", &client)
	for _, flow := range []string{"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} {
		if !slices.Contains(client.ExplicitAuthFlows, flow) {
			t.Errorf("the app client must allow %s (cognitoauth uses it)", flow)
		}
	}
	if client.GenerateSecret == nil || *client.GenerateSecret {
		t.Error("the app client must be public: no CLOUDPOST_COGNITO_CLIENT_SECRET is configured")
	}
}

// route is an HTTP API route of the api function.
type route struct {
	method, path string
	public       bool
}

func apiRoutes(t *testing.T, tpl *samTemplate, generic map[string]any) []route {
	t.Helper()
	api := templateFunctions(t, tpl, generic)[functions.HandlerAPI]
	var out []route
	for name, ev := range api.fn.Events {
		var h httpAPIEvent
		decodeEvent(t, "api event "+name, ev, "HttpApi", &h)
		if h.Method == nil || h.Path == nil {
			t.Fatalf("api event %s: %+v", name, ev)
		}
		if h.ApiId == nil || *h.ApiId != apiID {
			t.Errorf("api event %s is not on the template's HttpApi", name)
		}
		r := route{method: strings.ToUpper(*h.Method), path: *h.Path}
		if h.Auth != nil && h.Auth.Authorizer != nil {
			if *h.Auth.Authorizer != "NONE" {
				t.Errorf("api event %s: authorizer %q", name, *h.Auth.Authorizer)
			}
			r.public = true
		}
		out = append(out, r)
	}
	return out
}

// match picks the route API Gateway would pick for method and path: exact
// paths before greedy ones, more literal segments first, then a method
// match before ANY.
func match(routes []route, method, path string) (route, bool) {
	best, bestScore := route{}, -1
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range routes {
		if r.method != "ANY" && r.method != method {
			continue
		}
		pat := strings.Split(strings.Trim(r.path, "/"), "/")
		literal, greedy, ok := 0, false, true
		for i, p := range pat {
			if strings.HasSuffix(p, "+}") {
				greedy, ok = true, i < len(segs)
				break
			}
			if i >= len(segs) || (!strings.HasPrefix(p, "{") && p != segs[i]) {
				ok = false
				break
			}
			if !strings.HasPrefix(p, "{") {
				literal++
			}
		}
		if !ok || (!greedy && len(pat) != len(segs)) {
			continue
		}
		score := literal * 4
		if !greedy {
			score += 1000
		}
		if r.method != "ANY" {
			score += 2
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best, bestScore >= 0
}

// TestTemplateRoutesMatchTheApp asks the app which routes need a token
// and requires the HTTP API to put exactly those behind the JWT
// authorizer: a public app route behind the authorizer would lock clients
// out, an authenticated one left public would make the app verify tokens
// (and fetch keys) itself.
func TestTemplateRoutesMatchTheApp(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	routes := apiRoutes(t, tpl, generic)
	cfg, err := config.Load([]string{"CLOUDPOST_LOG_LEVEL=error"})
	if err != nil {
		t.Fatal(err)
	}
	var e *echo.Echo
	app := fx.New(functions.Options(cfg, functions.Config{Handler: functions.HandlerAPI}), fx.Populate(&e), fx.NopLogger)
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer app.Stop(context.Background())
	seen := 0
	for _, er := range e.Routes() {
		if strings.HasPrefix(er.Path, "/v1/dev/") || er.Path == "/.well-known/jwks.json" || er.Method == "echo_route_any" {
			continue // local identity provider only
		}
		seen++
		path := regexp.MustCompile(`:[a-z]+`).ReplaceAllString(er.Path, "x")
		path = strings.ReplaceAll(path, "*", "x")
		req := httptest.NewRequest(er.Method, path, nil)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		needsToken := w.Code == http.StatusUnauthorized
		r, ok := match(routes, er.Method, path)
		if !ok {
			t.Errorf("%s %s: no HTTP API route", er.Method, er.Path)
			continue
		}
		if r.public == needsToken {
			t.Errorf("%s %s: app needs a token: %v, HTTP API route %s %s public: %v", er.Method, er.Path, needsToken, r.method, r.path, r.public)
		}
	}
	if seen < 20 {
		t.Errorf("only %d app routes checked", seen)
	}
}

func TestTemplateAuthorizerMatchesTheVerifier(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	tpl.resource(t, "HttpApi", "AWS::Serverless::HttpApi", nil)
	auth := dig(generic, "Resources", "HttpApi", "Properties", "Auth")
	if dig(auth, "DefaultAuthorizer") != "CognitoJwt" {
		t.Errorf("default authorizer %v", dig(auth, "DefaultAuthorizer"))
	}
	jwt := dig(auth, "Authorizers", "CognitoJwt", "JwtConfiguration")
	fns := templateFunctions(t, tpl, generic)
	environ := []string{}
	for k, v := range fns[functions.HandlerAPI].env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	if dig(jwt, "issuer") != cfg.Cognito.IssuerURL() {
		t.Errorf("authorizer issuer %v, the verifier expects %s", dig(jwt, "issuer"), cfg.Cognito.IssuerURL())
	}
	if !reflect.DeepEqual(dig(jwt, "audience"), []any{cfg.Cognito.ClientID}) {
		t.Errorf("authorizer audience %v, the app's client is %s", dig(jwt, "audience"), cfg.Cognito.ClientID)
	}
	if dig(auth, "Authorizers", "CognitoJwt", "IdentitySource") != "$request.header.Authorization" {
		t.Error("the authorizer must read the Authorization header")
	}
	cors := dig(generic, "Resources", "HttpApi", "Properties", "CorsConfiguration")
	if !reflect.DeepEqual(dig(cors, "AllowOrigins"), []any{"https://app.example.com", "https://admin.example.com"}) {
		t.Errorf("API CORS origins %v", dig(cors, "AllowOrigins"))
	}
	// The same headers as the server's own CORS middleware.
	for _, h := range httpapi.CORSAllowHeaders {
		if !slices.Contains(asStrings(dig(cors, "AllowHeaders")), strings.ToLower(h)) {
			t.Errorf("API CORS must allow the %s header (as httpapi.CORSAllowHeaders)", h)
		}
	}
	for _, h := range httpapi.CORSExposeHeaders {
		if !slices.Contains(asStrings(dig(cors, "ExposeHeaders")), strings.ToLower(h)) {
			t.Errorf("API CORS must expose the %s header (as httpapi.CORSExposeHeaders)", h)
		}
	}
}

// grant is one allowed (action, resource) pair.
type grant struct{ action, resource string }

func TestTemplatePoliciesAreLeastPrivilege(t *testing.T) {
	objects := "arn:aws:s3:::" + bucket
	pool := "arn:aws:cognito-idp:" + region + ":" + account + ":userpool/" + poolID
	db := "arn:aws:rds-db:" + region + ":" + account + ":dbuser:cluster-ABCDEFGHIJKLMNOP/cloudpost"
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			iam := s.params["DBAuth"] == "iam"
			// The SNS applications of the scenario: no statement at all
			// for an empty one.
			var apps []string
			for _, p := range []string{"FCMApplicationArn", "APNsApplicationArn"} {
				if v, _ := s.params[p].(string); v != "" {
					apps = append(apps, v)
				}
			}
			snsGrants := func(onApps []string, onEndpoints ...string) []grant {
				var out []grant
				for _, app := range apps {
					for _, a := range onApps {
						out = append(out, grant{a, app})
					}
					for _, a := range onEndpoints {
						out = append(out, grant{a, endpointsOf(app)})
					}
				}
				return out
			}
			// The image pipeline: read uploads, write variants, replace a
			// failed upload's bytes by an empty object, delete variants.
			pipeline := []grant{
				{"s3:GetObject", objects + "/uploads/*"},
				{"s3:PutObject", objects + "/uploads/*"}, {"s3:PutObject", objects + "/variants/*"},
				{"s3:DeleteObject", objects + "/uploads/*"}, {"s3:DeleteObject", objects + "/variants/*"},
				{"s3:ListBucket", objects},
			}
			want := map[string][]grant{
				functions.HandlerAPI: append([]grant{
					{"s3:PutObject", objects + "/uploads/*"},
					{"s3:GetObject", objects + "/uploads/*"}, {"s3:GetObject", objects + "/variants/*"},
					{"s3:DeleteObject", objects + "/uploads/*"}, {"s3:DeleteObject", objects + "/variants/*"},
					{"s3:ListBucket", objects},
					{"cognito-idp:AdminGetUser", pool}, {"cognito-idp:ListUsers", pool},
					{"cognito-idp:AdminDeleteUser", pool}, {"cognito-idp:AdminUserGlobalSignOut", pool},
					// Announcing notifications, on the push queue only.
					{"sqs:SendMessage", queueARN("PushQueue")},
				}, snsGrants(
					// Registering a device creates or updates its endpoint;
					// removing one deletes it.
					[]string{"sns:CreatePlatformEndpoint"},
					"sns:GetEndpointAttributes", "sns:SetEndpointAttributes", "sns:DeleteEndpoint")...),
				functions.HandlerMedia:   pipeline,
				functions.HandlerCognito: {{"cognito-idp:AdminGetUser", pool}, {"cognito-idp:ListUsers", pool}},
				// The relay publishes and reschedules due-later messages on
				// its queue; SAM adds the queue's poller policy (receive,
				// delete, change visibility) for the event source.
				functions.HandlerPush: append([]grant{{"sqs:SendMessage", queueARN("PushQueue")}}, snsGrants(nil, "sns:Publish")...),
				// The relay publishes; the device prune releases endpoints.
				functions.HandlerJanitor: append(slices.Clone(pipeline), snsGrants(nil, "sns:Publish", "sns:GetEndpointAttributes", "sns:DeleteEndpoint")...),
				functions.HandlerMigrate: nil,
			}
			tpl, generic := parse(t, s)
			for h, f := range templateFunctions(t, tpl, generic) {
				allowed, denied := grants(t, f)
				w := want[h]
				if iam {
					w = append(w, grant{"rds-db:connect", db})
				}
				sortGrants(w)
				if !slices.Equal(allowed, w) {
					t.Errorf("%s allows\n  %v\nwant\n  %v", f.name, allowed, w)
				}
				for _, d := range denied {
					if d.action != "rds-db:connect" {
						t.Errorf("%s: unexpected deny %v", f.name, d)
					}
				}
				if f.fn.Role != nil || len(f.fn.Layers) > 0 {
					t.Errorf("%s: a shared role or layers would widen its permissions", f.name)
				}
			}
		})
	}
}

// grants flattens a function's inline policy statements.
func grants(t *testing.T, f function) (allowed, denied []grant) {
	t.Helper()
	docs, err := inlinePolicies(f.fn.Policies)
	if err != nil {
		t.Fatalf("%s: Policies must be inline statements (no managed or SAM template policies): %v", f.name, err)
	}
	for _, doc := range docs {
		for _, st := range doc.Statement {
			if st == nil {
				continue // removed by AWS::NoValue
			}
			m := asMap(st)
			actions, resources := asStrings(m["Action"]), asStrings(m["Resource"])
			if len(actions) == 0 || len(resources) == 0 {
				t.Errorf("%s: statement without actions or resources: %v", f.name, m)
			}
			for _, a := range actions {
				for _, r := range resources {
					g := grant{a, r}
					switch m["Effect"] {
					case "Allow":
						if strings.Contains(a, "*") || r == "*" {
							t.Errorf("%s: wildcard grant %v", f.name, g)
						}
						allowed = append(allowed, g)
					case "Deny":
						denied = append(denied, g)
					default:
						t.Errorf("%s: effect %v", f.name, m["Effect"])
					}
				}
			}
		}
	}
	sortGrants(allowed)
	return allowed, denied
}

func sortGrants(g []grant) {
	sort.Slice(g, func(i, j int) bool {
		if g[i].action != g[j].action {
			return g[i].action < g[j].action
		}
		return g[i].resource < g[j].resource
	})
}

func TestTemplateSchedulesAndOutputs(t *testing.T) {
	tpl, generic := parse(t, scenarios[0])
	fns := templateFunctions(t, tpl, generic)
	var schedules []string
	for name, ev := range fns[functions.HandlerJanitor].fn.Events {
		if ev.Type == "Schedule" {
			var sch scheduleEvent
			decodeEvent(t, "janitor event "+name, ev, "Schedule", &sch)
			schedules = append(schedules, sch.Schedule)
		}
	}
	if !slices.Equal(schedules, []string{"rate(5 minutes)"}) {
		t.Errorf("janitor schedules %q", schedules)
	}
	if n := len(fns[functions.HandlerMigrate].fn.Events); n != 0 {
		t.Errorf("migrate must only run when invoked, it has %d events", n)
	}
	for _, o := range []string{"ApiUrl", "UserPoolId", "UserPoolClientId", "MediaBucket", "MigrateFunction"} {
		if _, ok := tpl.Outputs[o]; !ok {
			t.Errorf("output %s missing", o)
		}
	}
	if got := fmt.Sprint(dig(generic, "Outputs", "ApiUrl", "Value")); got != "https://"+apiID+".execute-api."+region+".amazonaws.com" {
		t.Errorf("ApiUrl %s", got)
	}
}
