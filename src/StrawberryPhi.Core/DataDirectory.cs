namespace StrawberryPhi.Core;

/// <summary>Where Strawberry Phi keeps its state unless told otherwise (DESIGN.md: one data directory).</summary>
public static class DataDirectory
{
    /// <summary>$XDG_DATA_HOME/strawberry-phi, else ~/.local/share/strawberry-phi.</summary>
    public static string Default()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var root = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : xdg;
        return Path.Combine(root, "strawberry-phi");
    }
}
