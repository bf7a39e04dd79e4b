using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace StrawberryPhi.Web.Data;

/// <summary>What the database's answers mean to the services.</summary>
public static class DbErrors
{
    /// <summary>A save refused by a unique index (SQLite's SQLITE_CONSTRAINT_UNIQUE): another save took the key first.</summary>
    public static bool IsUniqueViolation(DbUpdateException e) =>
        e.InnerException is Microsoft.Data.Sqlite.SqliteException { SqliteExtendedErrorCode: 2067 or 1555 };
}

public sealed class StudioDbContext(DbContextOptions<StudioDbContext> options) : DbContext(options)
{
    public DbSet<ProviderConnection> Providers => Set<ProviderConnection>();

    public DbSet<Dataset> Datasets => Set<Dataset>();

    public DbSet<DatasetUpload> DatasetUploads => Set<DatasetUpload>();

    public DbSet<StudioSettings> Settings => Set<StudioSettings>();

    public DbSet<FineTuneJob> Jobs => Set<FineTuneJob>();

    public DbSet<JobEventRecord> JobEvents => Set<JobEventRecord>();

    public DbSet<JobMetricPoint> JobMetrics => Set<JobMetricPoint>();

    public DbSet<JobCheckpointRecord> JobCheckpoints => Set<JobCheckpointRecord>();

    public DbSet<JobResultFile> JobResultFiles => Set<JobResultFile>();

    public DbSet<StudioNotification> Notifications => Set<StudioNotification>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<EvalSetRecord> EvalSets => Set<EvalSetRecord>();

    public DbSet<EvalItemRecord> EvalItems => Set<EvalItemRecord>();

    public DbSet<EvalRunRecord> EvalRuns => Set<EvalRunRecord>();

    public DbSet<EvalResultRecord> EvalResults => Set<EvalResultRecord>();

    public DbSet<ChatCacheEntry> ChatCache => Set<ChatCacheEntry>();

    public DbSet<GoldenRecord> Golden => Set<GoldenRecord>();

    public DbSet<PlaygroundSessionRecord> PlaygroundSessions => Set<PlaygroundSessionRecord>();

    public DbSet<ChatPresetRecord> ChatPresets => Set<ChatPresetRecord>();

    /// <summary>
    /// Every time the studio stores is UTC; SQLite keeps no kind, so values read back are marked UTC again (otherwise
    /// the API would send them without a zone and clients would read them as local time).
    /// </summary>
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
    }

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(
        value => value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value,
        value => DateTime.SpecifyKind(value, DateTimeKind.Utc));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ProviderConnection>(e =>
        {
            e.Property(p => p.Name).HasMaxLength(100);
            e.HasIndex(p => p.Name).IsUnique();
            e.Property(p => p.Kind).HasConversion<string>().HasMaxLength(20);
        });
        modelBuilder.Entity<Dataset>(e =>
        {
            e.Property(d => d.Status).HasConversion<string>().HasMaxLength(20);
            e.HasIndex(d => d.CreatedAt);
            e.HasIndex(d => d.Sha256);
            e.HasOne<Dataset>().WithMany().HasForeignKey(d => d.ParentId).OnDelete(DeleteBehavior.SetNull);
        });
        modelBuilder.Entity<DatasetUpload>(e =>
        {
            e.Property(u => u.Status).HasConversion<string>().HasMaxLength(20);
            e.HasOne<Dataset>().WithMany().HasForeignKey(u => u.DatasetId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<ProviderConnection>().WithMany().HasForeignKey(u => u.ProviderId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(u => new { u.DatasetId, u.ProviderId });
        });
        modelBuilder.Entity<FineTuneJob>(e =>
        {
            e.Property(j => j.Status).HasMaxLength(40);
            e.Property(j => j.Model).HasMaxLength(300);
            e.Property(j => j.MethodType).HasMaxLength(40);
            e.Property(j => j.Origin).HasMaxLength(20);
            e.Property(j => j.EstimatedCost).HasConversion<double?>();
            e.Property(j => j.PricePer1M).HasConversion<double?>();
            e.HasOne<ProviderConnection>().WithMany().HasForeignKey(j => j.ProviderId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne<Dataset>().WithMany().HasForeignKey(j => j.TrainingDatasetId).OnDelete(DeleteBehavior.SetNull);
            e.HasOne<Dataset>().WithMany().HasForeignKey(j => j.ValidationDatasetId).OnDelete(DeleteBehavior.SetNull);
            // A provider's job is stored once per connection; a form's or a script's key never makes two jobs.
            e.HasIndex(j => new { j.ProviderId, j.RemoteId }).IsUnique();
            e.HasIndex(j => j.ClientRequestId).IsUnique();
            e.HasIndex(j => j.CreatedAt);
            e.HasIndex(j => new { j.Status, j.NextPollAt });
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(j => j.RerunOfJobId).OnDelete(DeleteBehavior.SetNull);
        });
        modelBuilder.Entity<JobEventRecord>(e =>
        {
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(x => x.JobId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.JobId, x.RemoteId }).IsUnique();
            e.HasIndex(x => new { x.JobId, x.CreatedAt });
        });
        modelBuilder.Entity<JobMetricPoint>(e =>
        {
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(x => x.JobId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.JobId, x.Step }).IsUnique();
        });
        modelBuilder.Entity<JobCheckpointRecord>(e =>
        {
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(x => x.JobId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.JobId, x.RemoteId }).IsUnique();
        });
        modelBuilder.Entity<JobResultFile>(e =>
        {
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(x => x.JobId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.JobId, x.RemoteId }).IsUnique();
        });
        modelBuilder.Entity<StudioNotification>(e =>
        {
            e.HasOne<FineTuneJob>().WithMany().HasForeignKey(n => n.JobId).OnDelete(DeleteBehavior.Cascade);
            // A job ends once: a second report of the same ending (a poll and an action's answer) tells nothing new.
            e.HasIndex(n => new { n.JobId, n.Kind }).IsUnique();
            e.HasIndex(n => n.CreatedAt);
        });
        modelBuilder.Entity<WebhookDelivery>(e =>
        {
            e.Property(d => d.Status).HasConversion<string>().HasMaxLength(20);
            e.HasOne<StudioNotification>().WithMany().HasForeignKey(d => d.NotificationId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(d => new { d.Status, d.NextAttemptAt });
        });
        modelBuilder.Entity<EvalSetRecord>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(200);
            e.HasIndex(x => x.CreatedAt);
            e.HasOne<Dataset>().WithMany().HasForeignKey(x => x.DatasetId).OnDelete(DeleteBehavior.SetNull);
        });
        modelBuilder.Entity<EvalItemRecord>(e =>
        {
            e.HasKey(x => new { x.SetId, x.Index });
            e.HasOne<EvalSetRecord>().WithMany().HasForeignKey(x => x.SetId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<EvalRunRecord>(e =>
        {
            e.Property(x => x.Status).HasMaxLength(20);
            e.HasOne<EvalSetRecord>().WithMany().HasForeignKey(x => x.SetId).OnDelete(DeleteBehavior.Restrict);
            e.HasIndex(x => x.CreatedAt);
            e.HasIndex(x => x.Status);
            e.HasIndex(x => x.ClientRequestId).IsUnique();
        });
        modelBuilder.Entity<EvalResultRecord>(e =>
        {
            // One answer per item and model in a run: a resumed run never answers an item twice.
            e.HasKey(x => new { x.RunId, x.ModelIndex, x.ItemIndex });
            e.Property(x => x.Cost).HasConversion<double?>();
            e.HasOne<EvalRunRecord>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<GoldenRecord>(e =>
        {
            e.Property(x => x.Model).HasMaxLength(300);
            e.HasOne<EvalRunRecord>().WithMany().HasForeignKey(x => x.CaptureRunId).OnDelete(DeleteBehavior.Restrict);
            e.HasIndex(x => x.CreatedAt);
        });
        modelBuilder.Entity<ChatCacheEntry>(e =>
        {
            e.HasKey(x => x.Key);
            e.Property(x => x.Cost).HasConversion<double?>();
        });
        modelBuilder.Entity<PlaygroundSessionRecord>(e => e.HasIndex(x => x.UpdatedAt));
        modelBuilder.Entity<ChatPresetRecord>(e =>
        {
            e.Property(x => x.Name).HasMaxLength(100);
            e.HasIndex(x => x.Name).IsUnique();
        });
        modelBuilder.Entity<StudioSettings>(e =>
        {
            e.Property(s => s.Id).ValueGeneratedNever();
            e.Property(s => s.Theme).HasConversion<string>().HasMaxLength(10);
        });
    }
}
