package dev.egressd.proxy.admin;

import static org.assertj.core.api.Assertions.assertThat;

import dev.egressd.policy.AccessRequest;
import dev.egressd.policy.Destination;
import dev.egressd.policy.Protocol;
import dev.egressd.proxy.decider.Approvals;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The approval API's answers: the token, listing, approving and denying, and every bad request. */
class ApprovalApiTest {
  private static final String TOKEN = "t".repeat(43);
  private final Approvals approvals = new Approvals(Clock.systemUTC());
  private final AdminListener.ApprovalControl control = new AdminListener.ApprovalControl(approvals, TOKEN);

  private String[] send(HttpMethod method, String uri, String authorization) {
    FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, uri);
    if (authorization != null) {
      request.headers().set("Authorization", authorization);
    }
    FullHttpResponse response = ApprovalApi.answer(request, control);
    try {
      return new String[] {String.valueOf(response.status().code()), response.content().toString(StandardCharsets.UTF_8)};
    } finally {
      response.release();
      request.release();
    }
  }

  private Approvals.Pending waiting(CompletableFuture<Approvals.Answer> answer) {
    return approvals.await(new AccessRequest(Destination.parseAuthority("a.example:443"), Protocol.SOCKS5_TCP, null,
        false, "[::1]:9", 4), "because \"x\"", answer);
  }

  @ParameterizedTest
  @CsvSource(nullValues = "none", value = {"none", "Bearer", "'Bearer wrong'", "'Basic dDp0'",
      "'bearer tttttttttttttttttttttttttttttttttttttttttttt'"})
  void withoutTheTokenEverythingIs401(String authorization) {
    assertThat(send(HttpMethod.GET, "/approvals", authorization)[0]).isEqualTo("401");
    assertThat(send(HttpMethod.POST, "/approvals/1/approve", authorization)[0]).isEqualTo("401");
  }

  @Test
  void aPendingRequestOfAKnownExecutionIsListedWithIt() {
    approvals.await(new AccessRequest(Destination.parseAuthority("b.example:443"), Protocol.HTTPS_CONNECT, "CONNECT",
        false, "unix-socket", 5, "ci-job-42"), "", new CompletableFuture<>());

    assertThat(send(HttpMethod.GET, "/approvals", "Bearer " + TOKEN)[1])
        .contains("\"client\":\"unix-socket\",\"connection_id\":5,\"execution_id\":\"ci-job-42\",");
  }

  @Test
  void listsApprovesAndDenies() {
    CompletableFuture<Approvals.Answer> first = new CompletableFuture<>();
    CompletableFuture<Approvals.Answer> second = new CompletableFuture<>();
    Approvals.Pending a = waiting(first);
    Approvals.Pending b = waiting(second);
    String[] listed = send(HttpMethod.GET, "/approvals", "Bearer " + TOKEN);
    assertThat(listed[0]).isEqualTo("200");
    assertThat(listed[1]).startsWith("[{\"id\":" + a.id() + ",\"protocol\":\"socks5_tcp\",\"host\":\"a.example\","
        + "\"port\":443,\"method\":null,\"client\":\"[::1]:9\",\"connection_id\":4,\"reason\":\"because \\\"x\\\"\","
        + "\"age_seconds\":");

    assertThat(send(HttpMethod.POST, "/approvals/" + a.id() + "/approve?by=watch", "Bearer " + TOKEN))
        .containsExactly("200", "approved " + a.id() + " (scope once)\n");
    assertThat(first).isCompletedWithValue(new Approvals.Answer(true, "watch"));
    assertThat(send(HttpMethod.POST, "/approvals/" + b.id() + "/deny?scope=host&for=60&by=Bad%20Name",
        "Bearer " + TOKEN)).containsExactly("200", "denied " + b.id() + " (scope host, for 60 s)\n");
    assertThat(second).as("an unusable name is recorded as cli").isCompletedWithValue(new Approvals.Answer(false,
        "cli"));
    assertThat(send(HttpMethod.GET, "/approvals", "Bearer " + TOKEN)[1]).isEqualTo("[]\n");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "POST|/approvals|405|only GET",
      "GET|/approvals/1/approve|405|only POST",
      "POST|/approvals/1/allow|404|not found",
      "POST|/approvals/x/approve|400|not a request id: \"x\"",
      "POST|/approvals/1/approve?scope=all|400|scope must be once, host or host:port, not \"all\"",
      "POST|/approvals/1/approve?for=0|400|for must be whole seconds from 1 to 31622400, not \"0\"",
      "POST|/approvals/1/approve?for=10m|400|for must be whole seconds",
      "POST|/approvals/99/approve|404|no request 99 is waiting",
  })
  void badRequestsSayWhat(String method, String uri, String status, String message) {
    waiting(new CompletableFuture<>());
    String[] answer = send(HttpMethod.valueOf(method), uri, "Bearer " + TOKEN);
    assertThat(answer[0]).isEqualTo(status);
    assertThat(answer[1]).startsWith(message);
  }
}
