import Crypto
import Foundation
import Glibc

/// A sealed copy of every server-custody face at one position of the face log
/// (`gallery.snapshot` in the data directory), so that a start-up reads one file and opens a few
/// hundred AES-GCM chunks instead of stepping a million rows and opening each template on its
/// own; the faces changed since come from the log's tail (see `SQLiteStore.forEachFaceBatch`).
///
/// Layout, stated once:
///
///     "ARGSNAP1" | chunk… | footer (JSON) | footer length (UInt64, little-endian) | "ARGSNAP1"
///
/// A chunk holds up to a batch of faces of one tenant, mode and gallery: their ids in the clear
/// (each face id and subject id as a length byte and UTF-8), then their templates, `faces ×
/// dimension` Float32 values, sealed with AES-GCM under the tenant's data key. The seal's AAD
/// names the tenant, mode, gallery, log position, chunk number and the SHA-256 of the ids, so a
/// chunk cannot be moved to another owner or place, nor its ids swapped. The file is 0600 from its
/// first byte, written beside and renamed into place once fsynced; the store stays the system of
/// record: a snapshot that does not open or does not agree with the store is ignored.
enum GallerySnapshot {
    static let fileName = "gallery.snapshot"
    static let magic = Array("ARGSNAP1".utf8)
    static let version = 1

    struct Chunk: Codable, Equatable {
        let tenant: String
        let mode: String
        let gallery: String
        let faces: Int
        let idsOffset: Int64
        let idsLength: Int
        let sealedOffset: Int64
        let sealedLength: Int
    }

    struct Footer: Codable {
        let version: Int
        /// The store it was written from (its default tenant's id, random per store).
        let store: String
        /// The last face-log entry the snapshot includes (0: none) and its face id.
        let seq: Int64
        let logFaceID: String?
        let dimension: Int
        let chunks: [Chunk]
    }

    enum Failure: Error, CustomStringConvertible {
        case io(String)
        case format(String)
        var description: String {
            switch self {
            case .io(let why): return why
            case .format(let why): return "gallery snapshot: \(why)"
            }
        }
    }

    static func path(in directory: String) -> String { (directory as NSString).appendingPathComponent(fileName) }

    static func context(_ chunk: Chunk, index: Int, seq: Int64, ids: UnsafeRawBufferPointer) -> Data {
        let digest = SHA256.hash(data: ids).map { String(format: "%02x", $0) }.joined()
        return Data("argus-gallery-snapshot:v\(version)\u{0}\(chunk.tenant)\u{0}\(chunk.mode)\u{0}\(chunk.gallery)\u{0}\(seq)\u{0}\(index)\u{0}\(digest)".utf8)
    }

    /// The ids of a chunk as stored.
    static func encodeIDs(faceIDs: ArraySlice<String>, subjectIDs: ArraySlice<String>) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(faceIDs.count * 48)
        for (face, subject) in zip(faceIDs, subjectIDs) {
            for id in [face, subject] {
                let bytes = Array(id.utf8)
                guard bytes.count <= 255 else { throw Failure.format("an id longer than 255 bytes") }
                out.append(UInt8(bytes.count))
                out.append(contentsOf: bytes)
            }
        }
        return out
    }

    static func decodeIDs(_ raw: UnsafeRawBufferPointer, count: Int) throws -> (faces: [String], subjects: [String]) {
        var faces: [String] = [], subjects: [String] = []
        faces.reserveCapacity(count)
        subjects.reserveCapacity(count)
        var at = 0
        func next() throws -> String {
            guard at < raw.count else { throw Failure.format("ids cut short") }
            let n = Int(raw[at])
            guard at + 1 + n <= raw.count else { throw Failure.format("ids cut short") }
            defer { at += 1 + n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[(at + 1)..<(at + 1 + n)]), as: UTF8.self)
        }
        for _ in 0..<count {
            faces.append(try next())
            subjects.append(try next())
        }
        guard at == raw.count else { throw Failure.format("ids longer than their faces") }
        return (faces, subjects)
    }

    /// Writes a snapshot file: chunks are appended as they come, the footer last.
    final class Writer {
        let path: String
        let temporary: String
        private var fd: Int32
        private var offset: Int64 = 0
        private var chunks: [Chunk] = []
        let seq: Int64
        let logFaceID: String?
        let store: String
        private(set) var dimension = 0
        private(set) var faces = 0

        init(directory: String, store: String, seq: Int64, logFaceID: String?) throws {
            path = GallerySnapshot.path(in: directory)
            self.store = store
            temporary = path + ".tmp-\(getpid())"
            self.seq = seq
            self.logFaceID = logFaceID
            unlink(temporary)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw Failure.io("cannot create \(temporary): \(PrivateFiles.errnoText())") }
            guard fchmod(fd, 0o600) == 0 else { throw Failure.io("cannot chmod \(temporary): \(PrivateFiles.errnoText())") }
            try append(GallerySnapshot.magic)
        }

        deinit {
            if fd >= 0 {
                close(fd)
                unlink(temporary)
            }
        }

        private func append(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw Failure.io("cannot write \(temporary): \(PrivateFiles.errnoText())") }
                done += n
            }
            offset += Int64(bytes.count)
        }

        private func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

        /// Adds the faces of one tenant, mode and gallery with their templates (`faces × dimension` values).
        func add(tenant: String, mode: String, gallery: String, faceIDs: ArraySlice<String>, subjectIDs: ArraySlice<String>,
                 templates: UnsafeBufferPointer<Float>, dimension: Int, key: SymmetricKey) throws {
            guard !faceIDs.isEmpty else { return }
            if self.dimension == 0 { self.dimension = dimension }
            guard dimension == self.dimension, templates.count == faceIDs.count * dimension else {
                throw Failure.format("templates of \(dimension) values where the snapshot has \(self.dimension)")
            }
            let ids = try GallerySnapshot.encodeIDs(faceIDs: faceIDs, subjectIDs: subjectIDs)
            let idsOffset = offset
            try append(ids)
            let provisional = Chunk(tenant: tenant, mode: mode, gallery: gallery, faces: faceIDs.count, idsOffset: idsOffset,
                                    idsLength: ids.count, sealedOffset: 0, sealedLength: 0)
            let aad = ids.withUnsafeBytes { GallerySnapshot.context(provisional, index: chunks.count, seq: seq, ids: $0) }
            let sealed = try AES.GCM.seal(UnsafeRawBufferPointer(templates), using: key, authenticating: aad)
            guard let combined = sealed.combined else { throw Failure.format("AES-GCM produced no combined form") }
            let sealedOffset = offset
            try combined.withUnsafeBytes { try append($0) }
            chunks.append(Chunk(tenant: tenant, mode: mode, gallery: gallery, faces: faceIDs.count, idsOffset: idsOffset,
                                idsLength: ids.count, sealedOffset: sealedOffset, sealedLength: combined.count))
            faces += faceIDs.count
        }

        /// Writes the footer, fsyncs, and renames the file into place.
        func commit() throws {
            let footer = try JSONEncoder().encode(Footer(version: GallerySnapshot.version, store: store, seq: seq, logFaceID: logFaceID,
                                                         dimension: dimension, chunks: chunks))
            try append(Array(footer))
            var length = UInt64(footer.count).littleEndian
            try withUnsafeBytes(of: &length) { try append($0) }
            try append(GallerySnapshot.magic)
            guard fsync(fd) == 0 else { throw Failure.io("cannot fsync \(temporary): \(PrivateFiles.errnoText())") }
            close(fd)
            fd = -1
            guard rename(temporary, path) == 0 else {
                let why = PrivateFiles.errnoText()
                unlink(temporary)
                throw Failure.io("cannot rename \(temporary): \(why)")
            }
            PrivateFiles.syncDirectory(of: path)
        }
    }

    /// An open snapshot file: its footer, and its chunks read on demand.
    final class Reader {
        let footer: Footer
        private let fd: Int32

        /// Nil when there is no snapshot. - Throws: when one exists but is not a whole snapshot.
        /// (Every bound is checked before any arithmetic on it: a hostile footer is refused, never a trap.)
        init?(directory: String) throws {
            let path = GallerySnapshot.path(in: directory)
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                if errno == ENOENT { return nil }
                throw Failure.io("cannot open \(path): \(PrivateFiles.errnoText())")
            }
            // Until both stored properties are set, this init owns the descriptor; after, deinit does.
            let footer: Footer
            do {
                footer = try Self.footer(fd)
            } catch {
                close(fd)
                throw error
            }
            self.fd = fd
            self.footer = footer
        }

        /// Largest dimension and chunk a snapshot may declare.
        static let maxDimension = 4096
        static let maxChunkFaces = 1 << 20

        private static func footer(_ fd: Int32) throws -> Footer {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw Failure.io("cannot stat the snapshot") }
            let size = Int64(st.st_size)
            let trailer = Int64(8 + 8), head = Int64(GallerySnapshot.magic.count)
            guard size >= head + trailer else { throw Failure.format("too short") }
            var tail = [UInt8](repeating: 0, count: Int(trailer))
            try read(fd, into: &tail, at: size - trailer)
            guard Array(tail[8...]) == GallerySnapshot.magic else { throw Failure.format("no trailer") }
            let length = tail[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard length > 0, length < 1 << 31, Int64(length) <= size - trailer - head else { throw Failure.format("bad footer length") }
            var raw = [UInt8](repeating: 0, count: Int(length))
            let end = size - trailer - Int64(length)
            try read(fd, into: &raw, at: end)
            let footer: Footer
            do {
                footer = try JSONDecoder().decode(Footer.self, from: Data(raw))
            } catch {
                throw Failure.format("unreadable footer: \(error)")
            }
            guard footer.version == GallerySnapshot.version else { throw Failure.format("version \(footer.version)") }
            guard (1...maxDimension).contains(footer.dimension) || footer.chunks.isEmpty else { throw Failure.format("dimension \(footer.dimension)") }
            func within(_ offset: Int64, _ length: Int) -> Bool {
                offset >= head && length >= 0 && Int64(length) <= end && offset <= end - Int64(length)
            }
            for c in footer.chunks {
                guard (1...maxChunkFaces).contains(c.faces), within(c.idsOffset, c.idsLength), within(c.sealedOffset, c.sealedLength),
                      c.idsLength <= c.faces * 2 * 256,
                      c.sealedLength == c.faces * footer.dimension * MemoryLayout<Float>.size + 28 else {
                    throw Failure.format("a chunk out of bounds")
                }
            }
            return footer
        }

        deinit { close(fd) }

        private static func read(_ fd: Int32, into buffer: inout [UInt8], at offset: Int64) throws {
            try buffer.withUnsafeMutableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { throw Failure.io("short read") }
                    done += n
                }
            }
        }

        /// Chunk `index`'s ids as stored (authenticated only by `open`).
        func ids(chunk index: Int) throws -> (faces: [String], subjects: [String]) {
            let c = footer.chunks[index]
            var ids = [UInt8](repeating: 0, count: c.idsLength)
            try Self.read(fd, into: &ids, at: c.idsOffset)
            return try ids.withUnsafeBytes { try GallerySnapshot.decodeIDs($0, count: c.faces) }
        }

        /// Chunk `index`: its ids, and its templates opened onto the end of `templates`.
        func open(chunk index: Int, key: SymmetricKey, appendingTo templates: inout [Float]) throws -> (faces: [String], subjects: [String]) {
            let c = footer.chunks[index]
            var ids = [UInt8](repeating: 0, count: c.idsLength)
            try Self.read(fd, into: &ids, at: c.idsOffset)
            var sealed = [UInt8](repeating: 0, count: c.sealedLength)
            try Self.read(fd, into: &sealed, at: c.sealedOffset)
            let aad = ids.withUnsafeBytes { GallerySnapshot.context(c, index: index, seq: footer.seq, ids: $0) }
            let opened = try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: aad)
            let decoded = try ids.withUnsafeBytes { try GallerySnapshot.decodeIDs($0, count: c.faces) }
            opened.withUnsafeBytes { raw in templates.append(contentsOf: raw.bindMemory(to: Float.self)) }
            return decoded
        }
    }
}
