import ArgumentParser
import ArgusFace
import ArgusMatching
import Foundation

extension Argus {
    struct GalleryCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gallery", abstract: "Gallery files.",
                                                        subcommands: [GalleryBuild.self])
    }
}

/// `argus gallery build DIR --out FILE`: one template per photo of DIR/<subject>/*.
struct GalleryBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build a gallery file from DIR/<subject>/*.{jpg,png}.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Directory of subject folders.") var directory: String
    @Option(help: "Gallery file to write.") var out: String

    func run() throws {
        let pipeline = try loadPipeline(global, upsample: nil)
        let gallery = Gallery(dimension: FaceEmbedder.dimension)
        let fm = FileManager.default
        var enrolled = 0, refused = 0
        for subject in try fm.contentsOfDirectory(atPath: directory).sorted() {
            let folder = (directory as NSString).appendingPathComponent(subject)
            guard let files = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            for file in files.sorted() {
                let path = (folder as NSString).appendingPathComponent(file)
                do {
                    let face = try pipeline.enrollmentFace(try ImageDecoderFacade.decode(path), policy: .largest)
                    try gallery.add(id: "\(subject)/\(file)", template: face.template ?? [])
                    enrolled += 1
                } catch {
                    refused += 1
                    printError("\(path): \(error)")
                }
            }
        }
        try gallery.save(to: out)
        print("\(out): \(enrolled) templates (\(refused) photos refused)")
    }
}
