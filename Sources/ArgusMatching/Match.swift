/// One search result: an external id and its cosine similarity to the query.
public struct Match: Sendable, Equatable, Hashable {
    public let id: String
    public let score: Float

    public init(id: String, score: Float) {
        self.id = id
        self.score = score
    }
}
