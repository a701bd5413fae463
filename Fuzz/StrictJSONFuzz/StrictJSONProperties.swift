import Foundation
import NumbatAPI
import NumbatCore
@testable import NumbatServices

/// Request bodies as the routes decode them (`StrictJSON`, what `Request.decodeStrict` does
/// once the body is in; the release upload's `OrchestrationService.decodeBody`), fed fuzzed
/// bytes. The first byte picks the body type; the rest is the body. What must hold:
///
/// - A body decodes to its type or is refused with a `NumbatError` (a 400, or a 422 from a
///   type's own validation) with a code and a message; no other error escapes, nothing traps.
/// - A strict body that decodes is a JSON object with no field outside the type's
///   `allowedFields` (checked here with `JSONSerialization`, independently of the decoder).
/// - A decoded body re-encodes (`JSONEncoder`, as the CLI sends these same types) to JSON that
///   decodes, strictly, to an equal value: what the CLI sends, the server accepts.
enum StrictJSONProperties {
    static let bodies: [(String, @Sendable (Data) -> Bool)] = [
        ("AddNodeRequest", { strict(AddNodeRequest.self, $0) }),
        ("TLSSettingsBody", { strict(TLSSettingsBody.self, $0) }),
        ("CreateFamilyRequest", { strict(CreateFamilyRequest.self, $0) }),
        ("RPCRequest", { strict(RPCRequest.self, $0) }),
        ("CreateProviderRequest", { strict(CreateProviderRequest.self, $0) }),
        ("SetFamilyReleaseRequest", { strict(SetFamilyReleaseRequest.self, $0) }),
        ("AddDomainRequest", { strict(AddDomainRequest.self, $0) }),
        ("DeployRequest", { strict(DeployRequest.self, $0) }),
        ("AcknowledgeAlarmRequest", { strict(AcknowledgeAlarmRequest.self, $0) }),
        ("SetNotificationLevelRequest", { strict(SetNotificationLevelRequest.self, $0) }),
        ("AlarmThresholds.Update", { thresholds($0) }),
        ("UploadReleaseRequest", { upload($0) }),
    ]

    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let selector = bytes.first else { return false }
        return bodies[Int(selector) % bodies.count].1(Data(bytes.dropFirst()))
    }

    static func expectRefusal(_ error: any Error, _ type: Any.Type) {
        guard let error = error as? NumbatError else { preconditionFailure("\(type): \(error) is not a NumbatError") }
        precondition(error.kind == .badRequest || error.kind == .unprocessable, "\(type): \(error.kind) \(error)")
        precondition(!error.code.isEmpty && !error.message.isEmpty)
    }

    static func expectOnlyAllowedFields<T: StrictJSONBody>(_ type: T.Type, _ data: Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            preconditionFailure("\(T.self) decoded from a body that is not a JSON object")
        }
        let unknown = Set(object.keys).subtracting(T.allowedFields)
        precondition(unknown.isEmpty, "\(T.self) decoded with unknown fields \(unknown)")
    }

    static func strict<T: StrictJSONBody & Encodable & Equatable>(_ type: T.Type, _ data: Data) -> Bool {
        let value: T
        do {
            value = try StrictJSON.decode(T.self, from: data)
        } catch {
            expectRefusal(error, T.self)
            return false
        }
        expectOnlyAllowedFields(T.self, data)
        let encoded: Data
        do {
            encoded = try JSONEncoder().encode(value)
        } catch {
            preconditionFailure("\(value) does not encode: \(error)")
        }
        do {
            let again = try StrictJSON.decode(T.self, from: encoded)
            precondition(again == value, "\(value) re-encodes as \(String(decoding: encoded, as: UTF8.self)), which decodes as \(again)")
        } catch {
            preconditionFailure("\(value) re-encodes as \(String(decoding: encoded, as: UTF8.self)), which is refused: \(error)")
        }
        return true
    }

    /// `PUT /api/alarms/thresholds`: a partial update, kept as JSON values.
    static func thresholds(_ data: Data) -> Bool {
        let update: AlarmThresholds.Update
        do {
            update = try StrictJSON.decode(AlarmThresholds.Update.self, from: data)
        } catch {
            expectRefusal(error, AlarmThresholds.Update.self)
            return false
        }
        expectOnlyAllowedFields(AlarmThresholds.Update.self, data)
        precondition(Set(update.fields.keys).isSubset(of: AlarmThresholds.Update.allowedFields))
        do {
            let again = try StrictJSON.decode(AlarmThresholds.Update.self, from: try JSONEncoder().encode(update.fields))
            precondition(again == update, "\(update) re-encodes as \(again)")
        } catch {
            preconditionFailure("\(update) does not re-encode: \(error)")
        }
        return true
    }

    /// The release upload's fields part (`OrchestrationService.decodeBody`, not strict by
    /// `allowedFields` but by the type's own check).
    static func upload(_ data: Data) -> Bool {
        let request: UploadReleaseRequest
        do {
            request = try OrchestrationService.decodeBody(UploadReleaseRequest.self, from: data)
        } catch {
            expectRefusal(error, UploadReleaseRequest.self)
            return false
        }
        do {
            let again = try OrchestrationService.decodeBody(UploadReleaseRequest.self, from: try JSONEncoder().encode(request))
            precondition(again == request, "\(request) re-encodes as \(again)")
        } catch {
            preconditionFailure("\(request) does not re-encode: \(error)")
        }
        return true
    }
}
