using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace StrawberryPhi.Web.Security;

/// <summary>
/// The Data Protection key ring on disk, readable by the studio's user only: the directory is 0700 and each key file
/// is created 0600 (the framework's own file repository leaves both to the umask). On Linux the ring itself is not
/// encrypted further, so these permissions are what keeps it private, as with an SSH key.
/// </summary>
internal sealed class PrivateFileXmlRepository : IXmlRepository
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly DirectoryInfo _directory;

    public PrivateFileXmlRepository(string directory)
    {
        _directory = OperatingSystem.IsWindows()
            ? Directory.CreateDirectory(directory)
            : Directory.CreateDirectory(directory, DirectoryMode);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, DirectoryMode);
        }
    }

    public IReadOnlyCollection<XElement> GetAllElements() =>
        _directory.EnumerateFiles("*.xml").Select(f => XElement.Load(f.FullName)).ToList();

    public void StoreElement(XElement element, string friendlyName)
    {
        var name = string.Concat(friendlyName.Where(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
        if (name.Length == 0)
        {
            name = Guid.NewGuid().ToString();
        }
        var path = Path.Combine(_directory.FullName, $"{name}.xml");
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }
        using (var stream = new FileStream(temporary, options))
        {
            element.Save(stream);
        }
        File.Move(temporary, path, overwrite: false);
    }
}
