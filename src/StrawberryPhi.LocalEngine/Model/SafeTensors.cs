using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace StrawberryPhi.LocalEngine.Model;

/// <summary>
/// Model state as a safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. We store float32 parameters and a string metadata
/// map (the base model's name, the engine's format version).
/// </summary>
public static class SafeTensors
{
    public const string BaseKey = "base";
    private const long MaxHeaderBytes = 100 << 20;

    /// <summary>Writes every parameter of <paramref name="model"/> to <paramref name="path"/>, atomically.</summary>
    public static void Save(GptModel model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        var meta = new JsonObject { [BaseKey] = model.Size.Name, ["format"] = "strawberry-phi/1" };
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            meta[key] = value;
        }
        header["__metadata__"] = meta;
        var tensors = new List<float[]>();
        long offset = 0;
        foreach (var (name, parameter) in model.named_parameters())
        {
            using var cpu = parameter.detach().cpu().contiguous();
            var values = cpu.data<float>().ToArray();
            var bytes = (long)values.Length * sizeof(float);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray([.. parameter.shape.Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
            tensors.Add(values);
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8; // the data starts 8-byte aligned; the header is padded with spaces
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (var i = json.Length; i < padded; i++)
            {
                stream.WriteByte((byte)' ');
            }
            foreach (var values in tensors)
            {
                stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Builds the file's base model and loads its parameters.</summary>
    /// <exception cref="InvalidDataException">The file is not a safetensors file of a known base model, or does not fit it.</exception>
    public static GptModel Load(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var (header, dataStart) = ReadHeader(stream, path);
        var baseName = (header["__metadata__"] as JsonObject)?[BaseKey]?.GetValue<string>()
            ?? throw new InvalidDataException($"{path}: no \"{BaseKey}\" in the safetensors metadata.");
        var size = ModelSize.Find(baseName) ?? throw new InvalidDataException($"{path}: unknown base model \"{baseName}\".");
        var model = new GptModel(size);
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (header[name] is not JsonObject entry || entry["dtype"]?.GetValue<string>() != "F32"
                || entry["shape"] is not JsonArray shape || entry["data_offsets"] is not JsonArray offsets)
            {
                throw new InvalidDataException($"{path}: tensor \"{name}\" is missing or not float32.");
            }
            var expected = parameter.shape;
            if (!shape.Select(d => d!.GetValue<long>()).SequenceEqual(expected))
            {
                throw new InvalidDataException($"{path}: tensor \"{name}\" has shape [{string.Join(", ", shape)}], the model needs [{string.Join(", ", expected)}].");
            }
            var (begin, end) = (offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>());
            var count = expected.Aggregate(1L, (a, b) => a * b);
            if (end - begin != count * sizeof(float) || begin < 0 || dataStart + end > stream.Length)
            {
                throw new InvalidDataException($"{path}: tensor \"{name}\" has a bad byte range [{begin}, {end}).");
            }
            var values = new float[count];
            stream.Position = dataStart + begin;
            stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            using var loaded = torch.tensor(values, expected);
            parameter.copy_(loaded);
        }
        model.eval();
        return model;
    }

    /// <summary>The metadata map of a safetensors file.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var (header, _) = ReadHeader(stream, path);
        return (header["__metadata__"] as JsonObject)?.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "") ?? [];
    }

    private static (JsonObject Header, long DataStart) ReadHeader(FileStream stream, string path)
    {
        Span<byte> length = stackalloc byte[8];
        if (stream.ReadAtLeast(length, 8, throwOnEndOfStream: false) < 8)
        {
            throw new InvalidDataException($"{path}: too short for a safetensors file.");
        }
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(length);
        if (headerLength == 0 || headerLength > MaxHeaderBytes || (long)headerLength > stream.Length - 8)
        {
            throw new InvalidDataException($"{path}: not a safetensors file (header length {headerLength}).");
        }
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        try
        {
            return (JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{path}: the safetensors header is not a JSON object."), 8 + (long)headerLength);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid JSON ({e.Message}).", e);
        }
    }
}
