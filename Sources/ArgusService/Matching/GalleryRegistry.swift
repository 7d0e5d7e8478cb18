import ArgusMatching
public import Foundation
import Synchronization

/// The in-memory galleries: one per (tenant, mode, gallery name), loaded from the store at start
/// and kept in step with every enrolment and deletion. Gallery ids are face ids; this also keeps
/// face → subject so 1:N answers with subjects.
final class GalleryRegistry: Sendable {
    struct Key: Hashable, Sendable {
        let tenant: String
        let mode: Mode
        let gallery: String
    }

    private let galleries = Mutex<[Key: Gallery]>([:])
    private let subjectOfFace = Mutex<[String: String]>([:])
    let dimension: Int

    init(dimension: Int) {
        self.dimension = dimension
    }

    func gallery(_ key: Key) -> Gallery {
        galleries.withLock { all in
            if let g = all[key] { return g }
            let g = Gallery(dimension: dimension)
            all[key] = g
            return g
        }
    }

    func existingGalleries(tenant: String, mode: Mode) -> [Gallery] {
        galleries.withLock { all in all.filter { $0.key.tenant == tenant && $0.key.mode == mode }.map(\.value) }
    }

    func add(face: String, subject: String, template: [Float], key: Key) throws {
        try gallery(key).add(id: face, template: template)
        subjectOfFace.withLock { $0[face] = subject }
    }

    func remove(faces: [String], tenant: String, mode: Mode) {
        for g in existingGalleries(tenant: tenant, mode: mode) {
            for face in faces { g.remove(id: face) }
        }
        subjectOfFace.withLock { map in for face in faces { map[face] = nil } }
    }

    func subject(ofFace face: String) -> String? { subjectOfFace.withLock { $0[face] } }

    var totalTemplates: Int { galleries.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
