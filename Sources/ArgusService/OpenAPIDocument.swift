public import Foundation

/// The committed OpenAPI 3.1 document (`Resources/openapi.json`), served at `/openapi.json`.
public enum OpenAPIDocument {
    public static let data: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else {
            return Data("{}".utf8)
        }
        return data
    }()
}

extension OpenAPIDocument {
    /// Path templates of the document and their methods: a request for a known path with another
    /// method is 405 with `Allow`, not 404.
    static let routes: [(segments: [Substring], methods: [String])] = {
        guard let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let paths = doc["paths"] as? [String: Any] else { return [] }
        return paths.map { path, item in
            (path.split(separator: "/"), ((item as? [String: Any]) ?? [:]).keys.map { $0.uppercased() }.sorted())
        }
    }()

    /// The methods the document allows on `path`, nil for a path it does not have.
    static func allowedMethods(path: String) -> [String]? {
        let segments = path.split(separator: "/")
        let methods = routes.filter { route in
            route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.flatMap(\.methods)
        return methods.isEmpty ? nil : Array(Set(methods)).sorted()
    }
}
