import ArgusImaging

/// One input through the decoder the API uses (the C shim over libpng, then the Swift wrapper's
/// checks) with the service's kind of pixel budget. The signature is put in front when the input
/// lacks it, so mutations reach the codec instead of the format sniffer. Any outcome but a crash,
/// a sanitizer report or a leak is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if !bytes.starts(with: signature) { bytes = signature + bytes }
    _ = try? ImageDecoder(options: .init(maxPixels: 4_000_000)).decode(bytes)
    return 0
}
