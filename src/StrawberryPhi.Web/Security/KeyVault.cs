using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;

namespace StrawberryPhi.Web.Security;

/// <summary>Encrypts provider API keys at rest with a key ring that lives outside the database.</summary>
public sealed class KeyVault(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("StrawberryPhi.ProviderApiKeys.v1");

    public string Protect(string apiKey) => _protector.Protect(apiKey);

    /// <exception cref="KeyVaultException">The key ring that encrypted it is gone or was changed.</exception>
    public string Unprotect(string protectedKey)
    {
        try
        {
            return _protector.Unprotect(protectedKey);
        }
        catch (CryptographicException)
        {
            throw new KeyVaultException("The stored API key cannot be decrypted: the key ring in the data directory (keys/) is missing or was replaced. Enter the key again.");
        }
    }

    /// <summary>What may be shown of a key: its first three characters and last four (<c>sk-…9f2c</c>); short keys show nothing.</summary>
    public static string Mask(string apiKey) =>
        apiKey.Length < 12 ? "••••" : $"{apiKey[..3]}…{apiKey[^4..]}";
}

public sealed class KeyVaultException(string message) : Exception(message);

public static class KeyVaultExtensions
{
    public static IServiceCollection AddKeyVault(this IServiceCollection services, string keysDirectory)
    {
        services.AddDataProtection().SetApplicationName("StrawberryPhi");
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = new PrivateFileXmlRepository(keysDirectory));
        services.AddSingleton<KeyVault>();
        return services;
    }
}
