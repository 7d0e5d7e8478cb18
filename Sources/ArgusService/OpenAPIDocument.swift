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
