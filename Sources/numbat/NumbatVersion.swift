/// Numbat's version: `numbat --version` prints it and `scripts/package.sh` names the Debian
/// package after it (`numbat_<version>_<arch>.deb`), so this line is the one place to change it.
enum NumbatVersion {
    static let current = "0.1.0"
}
