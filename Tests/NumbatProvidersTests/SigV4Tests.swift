import Foundation
import Testing
import Crypto
@testable import NumbatProviders

/// AWS's published Signature Version 4 test suite (aws-sig-v4-test-suite): the example
/// credentials, 2015-08-30T12:36:00Z, region us-east-1, service "service".
@Suite("SigV4 against AWS's published test vectors")
struct SigV4Tests {
    static let signer = SigV4(
        credentials: .init(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    static let time = Date(timeIntervalSince1970: 1_440_938_160)
    static let scope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

    static func authorization(_ request: SigV4.Request) -> String? {
        signer.sign(request, at: time).first { $0.0 == "Authorization" }?.1
    }

    @Test("get-vanilla")
    func getVanilla() {
        let request = SigV4.Request(method: "GET", headers: [("Host", "example.amazonaws.com")])
        #expect(SigV4.timestamp(Self.time) == "20150830T123600Z")
        let canonical = Self.signer.canonicalRequest(request, timestamp: "20150830T123600Z")
        #expect(SigV4.hex(Crypto.SHA256.hash(data: Data(canonical.utf8))) == "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        #expect(Self.authorization(request) == Self.scope + ", SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test("get-vanilla-query-order-key-case: parameters sorted by key")
    func queryOrder() {
        let request = SigV4.Request(method: "GET", query: [("Param2", "value2"), ("Param1", "value1")], headers: [("Host", "example.amazonaws.com")])
        let canonical = Self.signer.canonicalRequest(request, timestamp: "20150830T123600Z")
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == "Param1=value1&Param2=value2")
        #expect(SigV4.hex(Crypto.SHA256.hash(data: Data(canonical.utf8))) == "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0")
        #expect(Self.authorization(request) == Self.scope + ", SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test("post-x-www-form-urlencoded: the body is hashed and signed, as EC2's Query API sends it")
    func formBody() {
        let request = SigV4.Request(method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Host", "example.amazonaws.com")],
                                    body: Array("Param1=value1".utf8))
        let canonical = Self.signer.canonicalRequest(request, timestamp: "20150830T123600Z")
        #expect(canonical.hasSuffix("9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"))
        #expect(SigV4.hex(Crypto.SHA256.hash(data: Data(canonical.utf8))) == "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281")
        #expect(Self.authorization(request) == Self.scope + ", SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
    }

    @Test("a different secret, region or body changes the signature")
    func sensitivity() {
        let request = SigV4.Request(method: "GET", headers: [("Host", "example.amazonaws.com")])
        var other = Self.signer
        other.region = "eu-west-1"
        #expect(other.sign(request, at: Self.time).last?.1 != Self.authorization(request))
        #expect(SigV4.encode("a b/c~") == "a%20b%2Fc~")
    }
}
