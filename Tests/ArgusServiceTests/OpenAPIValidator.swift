import Foundation
import Testing
@testable import ArgusService

/// Checks responses against `openapi.json`: every response the service tests receive goes
/// through `check` (see `TestClientProtocol.call`), so the document and the code cannot drift.
/// A small JSON Schema (2020-12) validator for the keywords the document uses: `$ref`, `type`
/// (with "null"), `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`,
/// `minimum`/`maximum`, `minItems`/`maxItems`, `pattern`.
struct OpenAPIValidator: @unchecked Sendable {
    // @unchecked: an immutable value holding JSONSerialization's immutable values.
    let document: [String: Any]
    /// (template segments, path item) for every path.
    let paths: [([String], [String: Any])]

    static let shared: OpenAPIValidator = {
        guard let doc = try? JSONSerialization.jsonObject(with: OpenAPIDocument.data) as? [String: Any] else {
            fatalError("openapi.json is not a JSON object")
        }
        return OpenAPIValidator(document: doc)
    }()

    init(document: [String: Any]) {
        self.document = document
        let items = (document["paths"] as? [String: Any]) ?? [:]
        paths = items.compactMap { path, item in
            (item as? [String: Any]).map { (path.split(separator: "/").map(String.init), $0) }
        }
    }

    /// The operation of a concrete path and method.
    func operation(method: String, path: String) -> [String: Any]? {
        let segments = path.split(separator: "/").map(String.init)
        // Literal segments win over templates (as the router resolves them).
        let candidates = paths.filter { template, _ in
            template.count == segments.count && zip(template, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.sorted { a, b in a.0.filter { $0.hasPrefix("{") }.count < b.0.filter { $0.hasPrefix("{") }.count }
        for (_, item) in candidates { if let op = item[method.lowercased()] as? [String: Any] { return op } }
        return nil
    }

    /// Problems with one response; empty when it agrees with the document.
    func check(method: String, uri: String, status: Int, contentType: String?, body: Data) -> [String] {
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        guard let op = operation(method: method, path: path) else {
            // Routes the document does not have must answer the error shape (404/405).
            return status == 404 || status == 405 ? checkError(body) : ["\(method) \(path): not in the document, answered \(status)"]
        }
        let responses = (op["responses"] as? [String: Any]) ?? [:]
        guard var response = (responses[String(status)] ?? responses["default"]) as? [String: Any] else {
            return ["\(method) \(path): status \(status) is not documented"]
        }
        response = resolve(response)
        guard let content = response["content"] as? [String: Any] else { return body.isEmpty ? [] : ["\(method) \(path) \(status): undocumented body"] }
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[type] as? [String: Any] else {
            return ["\(method) \(path) \(status): content type \(type) is not documented (\(content.keys.sorted()))"]
        }
        guard type == "application/json" else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            return ["\(method) \(path) \(status): the body is not JSON"]
        }
        return validate(value, against: media["schema"] ?? [:], at: "\(method) \(path) \(status)")
    }

    private func checkError(_ body: Data) -> [String] {
        guard let value = try? JSONSerialization.jsonObject(with: body) else { return ["error body is not JSON"] }
        return validate(value, against: ["$ref": "#/components/schemas/Error"], at: "error")
    }

    private func resolve(_ node: [String: Any]) -> [String: Any] {
        guard let ref = node["$ref"] as? String, ref.hasPrefix("#/") else { return node }
        var current: Any = document
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = (current as? [String: Any])?[String(part)] else { return [:] }
            current = next
        }
        return resolve((current as? [String: Any]) ?? [:])
    }

    static func typeName(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let n = value as? NSNumber {
            let kind = String(cString: n.objCType)
            if kind == "c" || kind == "B" { return "boolean" }
            return kind == "d" || kind == "f" ? "number" : "integer"
        }
        if value is String { return "string" }
        if value is [Any] { return "array" }
        if value is [String: Any] { return "object" }
        return "unknown"
    }

    func validate(_ value: Any, against raw: Any, at path: String) -> [String] {
        guard let schema = (raw as? [String: Any]).map(resolve) else { return [] }
        var problems: [String] = []
        let actual = Self.typeName(value)
        if let t = schema["type"] {
            let allowed = (t as? [String]) ?? [(t as? String) ?? ""]
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !ok { return ["\(path): expected \(allowed.joined(separator: "|")), got \(actual)"] }
        }
        if let c = schema["const"], !Self.equal(c, value) { problems.append("\(path): expected \(c), got \(value)") }
        if let e = schema["enum"] as? [Any], !e.contains(where: { Self.equal($0, value) }) { problems.append("\(path): \(value) is not one of \(e)") }
        if let n = value as? NSNumber, actual != "boolean" {
            if let min = (schema["minimum"] as? NSNumber)?.doubleValue, n.doubleValue < min { problems.append("\(path): \(n) < \(min)") }
            if let max = (schema["maximum"] as? NSNumber)?.doubleValue, n.doubleValue > max { problems.append("\(path): \(n) > \(max)") }
        }
        if let s = value as? String, let pattern = schema["pattern"] as? String, s.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(path): \(s.prefix(40)) does not match \(pattern)")
        }
        if let a = value as? [Any] {
            if let min = schema["minItems"] as? Int, a.count < min { problems.append("\(path): \(a.count) items < \(min)") }
            if let max = schema["maxItems"] as? Int, a.count > max { problems.append("\(path): \(a.count) items > \(max)") }
            if let items = schema["items"] {
                for (i, element) in a.enumerated() { problems += validate(element, against: items, at: "\(path)[\(i)]") }
            }
        }
        if let o = value as? [String: Any] {
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for name in (schema["required"] as? [String]) ?? [] where o[name] == nil { problems.append("\(path): missing \(name)") }
            for (name, member) in o {
                if let p = properties[name] {
                    problems += validate(member, against: p, at: "\(path).\(name)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path): undocumented member \(name)")
                }
            }
        }
        return problems
    }

    static func equal(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case let (x as String, y as String): return x == y
        case let (x as NSNumber, y as NSNumber): return x == y
        default: return false
        }
    }
}
