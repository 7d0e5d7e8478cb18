import ArgumentParser

@main
struct Argus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "argus",
        abstract: "Face biometric matching: templates, 1:1 verification, 1:N identification.",
        subcommands: [Serve.self, Keys.self, Tenants.self, OperatorKeys.self, Enroll.self, Detect.self, Embed.self, Verify.self, Identify.self, GalleryCommand.self, Eval.self, Bench.self]
    )
}
