using System.ComponentModel.DataAnnotations;

namespace StrawberryPhi.Web;

/// <summary>Where the studio keeps its state and how large an upload may be.</summary>
public sealed class StudioOptions
{
    /// <summary>Config key <c>DataDirectory</c>: the SQLite database, dataset files, the key ring and the local engine's state.</summary>
    [Required]
    public string DataDirectory { get; set; } = "";

    /// <summary>Config key <c>Studio:MaxUploadBytes</c>; larger uploads are refused before their body is read.</summary>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 512L * 1024 * 1024;

    public string DatasetsDirectory => Path.Combine(DataDirectory, "datasets");

    public string KeysDirectory => Path.Combine(DataDirectory, "keys");

    public string EngineDirectory => Path.Combine(DataDirectory, "engine");

    public string DatabasePath => Path.Combine(DataDirectory, "studio.db");
}
