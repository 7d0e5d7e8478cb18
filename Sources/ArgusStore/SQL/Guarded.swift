import GRDB

extension SQLBackedStore {
    /// Runs `body`, letting only `StoreError`s out: the database's and the file system's failures
    /// are the store's business, named for the caller without their SQL.
    static func guarded<T>(_ body: () throws -> T) throws -> T { try StoreFailures.guarded(body) }
}

enum StoreFailures {
    static func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.conflict("a uniqueness rule was broken: \(error.message ?? "constraint")")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StoreError.full("database: \(error.message ?? "disk full")")
        } catch let error as DatabaseError {
            throw StoreError.unavailable("database: \(error.message ?? "\(error.resultCode)")")
        } catch let error as KeyVault.Failure {
            throw StoreError.sealed("\(error)")
        } catch let error as PrivateFiles.Failure {
            throw StoreError.unavailable("\(error)")
        } catch let error as PostgresFailure {
            throw error.storeError
        } catch {
            throw StoreError.sealed("a sealed value did not open: \(error)")
        }
    }
}
