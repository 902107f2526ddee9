package lambdaapi

import (
	"testing"
)

func BenchmarkTmpApigwV1(b *testing.B) {
	p := []byte(`{"body":null,"headers":{"Accept":"application/json","Accept-Encoding":"gzip, deflate, br, zstd","Accept-Language":"fr-FR,fr;q=0.9,en;q=0.8","Authorization":"Bearer eyJhbGciOiJFZERTQSIsImtpZCI6ImxvY2FsLTEiLCJ0eXAiOiJKV1QifQ.eyJjbGllbnRfaWQiOiJjbG91ZHBvc3QtbG9jYWwiLCJlbWFpbCI6ImJlbmNoQGV4YW1wbGUuY29tIiwiZXhwIjoxNzk1NTg2MzI4LCJpYXQiOjE3OTU1ODQ1MjgsImlzcyI6Imh0dHA6Ly9sb2NhbGhvc3Q6ODA4MC9sb2NhbCIsImp0aSI6IjAxOTM0ZjBlLThmN2EtN2MzZS05ZDJiLTVhMWUyYzNkNGU1ZiIsInN1YiI6IjAxOTM0ZjBlLThmN2EtN2MzZS05ZDJiLTVhMWUyYzNkNGU1ZiIsInRva2VuX3VzZSI6ImFjY2VzcyJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl","Content-Length":"0","Host":"abc123defg.execute-api.eu-west-1.amazonaws.com","Origin":"https://app.example.com","Referer":"https://app.example.com/feed","Sec-Ch-Ua":"\"Chromium\";v=\"130\", \"Not?A_Brand\";v=\"99\"","Sec-Ch-Ua-Mobile":"?0","Sec-Ch-Ua-Platform":"\"Linux\"","Sec-Fetch-Dest":"empty","Sec-Fetch-Mode":"cors","Sec-Fetch-Site":"same-site","User-Agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36","X-Amzn-Trace-Id":"Root=1-67890abc-0123456789abcdef01234567","X-Forwarded-For":"203.0.113.9","X-Forwarded-Port":"443","X-Forwarded-Proto":"https"},"httpMethod":"GET","isBase64Encoded":false,"multiValueHeaders":{"Accept":["application/json"],"Accept-Encoding":["gzip, deflate, br, zstd"],"Accept-Language":["fr-FR,fr;q=0.9,en;q=0.8"],"Authorization":["Bearer eyJhbGciOiJFZERTQSIsImtpZCI6ImxvY2FsLTEiLCJ0eXAiOiJKV1QifQ.eyJjbGllbnRfaWQiOiJjbG91ZHBvc3QtbG9jYWwiLCJlbWFpbCI6ImJlbmNoQGV4YW1wbGUuY29tIiwiZXhwIjoxNzk1NTg2MzI4LCJpYXQiOjE3OTU1ODQ1MjgsImlzcyI6Imh0dHA6Ly9sb2NhbGhvc3Q6ODA4MC9sb2NhbCIsImp0aSI6IjAxOTM0ZjBlLThmN2EtN2MzZS05ZDJiLTVhMWUyYzNkNGU1ZiIsInN1YiI6IjAxOTM0ZjBlLThmN2EtN2MzZS05ZDJiLTVhMWUyYzNkNGU1ZiIsInRva2VuX3VzZSI6ImFjY2VzcyJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"],"Content-Length":["0"],"Host":["abc123defg.execute-api.eu-west-1.amazonaws.com"],"Origin":["https://app.example.com"],"Referer":["https://app.example.com/feed"],"Sec-Ch-Ua":["\"Chromium\";v=\"130\", \"Not?A_Brand\";v=\"99\""],"Sec-Ch-Ua-Mobile":["?0"],"Sec-Ch-Ua-Platform":["\"Linux\""],"Sec-Fetch-Dest":["empty"],"Sec-Fetch-Mode":["cors"],"Sec-Fetch-Site":["same-site"],"User-Agent":["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"],"X-Amzn-Trace-Id":["Root=1-67890abc-0123456789abcdef01234567"],"X-Forwarded-For":["203.0.113.9"],"X-Forwarded-Port":["443"],"X-Forwarded-Proto":["https"]},"multiValueQueryStringParameters":null,"path":"/v1/posts/01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f","pathParameters":{"proxy":"v1/posts/01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f"},"queryStringParameters":null,"requestContext":{"accountId":"123456789012","apiId":"abc123defg","domainName":"abc123defg.execute-api.eu-west-1.amazonaws.com","domainPrefix":"abc123defg","extendedRequestId":"TWegAcC4EowCHnA=","httpMethod":"GET","identity":{"accessKey":null,"accountId":null,"caller":null,"cognitoAuthenticationProvider":null,"cognitoAuthenticationType":null,"cognitoIdentityId":null,"cognitoIdentityPoolId":null,"principalOrgId":null,"sourceIp":"203.0.113.9","user":null,"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36","userArn":null},"path":"/prod/v1/posts/01934f0e-8f7a-7c3e-9d2b-5a1e2c3d4e5f","protocol":"HTTP/1.1","requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","requestTime":"25/Nov/2026:05:28:48 +0000","requestTimeEpoch":1795584528000,"resourceId":"roq9wj","resourcePath":"/{proxy+}","stage":"prod"},"resource":"/{proxy+}","stageVariables":null}`)
	b.SetBytes(int64(len(p)))
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := decodeEvent(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("skip", func(b *testing.B) {
		for b.Loop() {
			r := newJSONReader(p)
			r.skip()
			if r.end() != nil {
				b.Fatal()
			}
		}
	})
}
